using Millrace.DynamoDb.Expressions;
using Millrace.DynamoDb.Model;

namespace Millrace.DynamoDb.Tests;

/// <summary>The expression parser and evaluator: conditions, updates, projections and DynamoDB's error texts.</summary>
public sealed class ExpressionTests
{
    private static AttributeValue S(string s) => AttributeValue.FromS(s);

    private static AttributeValue N(string n) => AttributeValue.FromN(DynamoNumber.Parse(n));

    private static Dictionary<string, AttributeValue> Lease() => new(StringComparer.Ordinal)
    {
        ["leaseKey"] = S("shardId-000000000001"),
        ["leaseOwner"] = S("worker-a"),
        ["leaseCounter"] = N("7"),
        ["parentShardId"] = AttributeValue.FromSS(["shardId-000000000000"]),
        ["doc"] = AttributeValue.FromM([KeyValuePair.Create("elems", AttributeValue.FromL([S("x"), N("2")]))]),
    };

    private static bool Eval(string condition, Dictionary<string, AttributeValue>? values = null, Dictionary<string, string>? names = null)
    {
        var context = new ExpressionContext(names, values);
        return Evaluator.Evaluate(Parser.ParseCondition(condition, "ConditionExpression", context), Lease());
    }

    private static Dictionary<string, AttributeValue> V(params (string Name, AttributeValue Value)[] values) =>
        values.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);

    [Theory]
    [InlineData("leaseCounter = :seven", true)]
    [InlineData("leaseCounter <> :seven", false)]
    [InlineData("leaseCounter < :ten", true)]
    [InlineData("leaseCounter >= :ten", false)]
    [InlineData("leaseCounter BETWEEN :seven AND :ten", true)]
    [InlineData("leaseCounter IN (:ten, :seven)", true)]
    [InlineData("attribute_exists(leaseOwner) AND attribute_not_exists(checkpointOwner)", true)]
    [InlineData("NOT attribute_exists(leaseOwner) OR leaseCounter = :ten", false)]
    [InlineData("(leaseCounter = :ten OR leaseCounter = :seven) AND begins_with(leaseKey, :prefix)", true)]
    [InlineData("contains(parentShardId, :parent) AND attribute_type(parentShardId, :ss)", true)]
    [InlineData("size(doc.elems) = :two AND doc.elems[1] = :two AND doc.elems[0] = :x", true)]
    [InlineData("notThere = :seven", false)]
    [InlineData("notThere <> :seven", true)]
    [InlineData("leaseOwner < :ten", false)] // different types never order
    [InlineData("NOT leaseCounter = :seven AND leaseCounter = :seven", false)] // NOT binds tighter than AND
    [InlineData("leaseCounter = :seven OR leaseCounter = :ten AND leaseCounter = :ten", true)] // AND before OR
    public void Conditions(string condition, bool expected)
    {
        var values = V((":seven", N("7.0")), (":ten", N("10")), (":two", N("2")), (":x", S("x")), (":prefix", S("shardId-")),
            (":parent", S("shardId-000000000000")), (":ss", S("SS")));
        var context = new ExpressionContext(null, values);
        var parsed = Parser.ParseCondition(condition, "ConditionExpression", context);
        Assert.Equal(expected, Evaluator.Evaluate(parsed, Lease()));
    }

    [Fact]
    public void NamesResolveThroughExpressionAttributeNames()
    {
        Assert.True(Eval("#o = :o AND #k.#l[0] = :x", V((":o", S("worker-a")), (":x", S("x"))),
            new Dictionary<string, string> { ["#o"] = "leaseOwner", ["#k"] = "doc", ["#l"] = "elems" }));
    }

    [Theory]
    [InlineData("leaseCounter = = :v", "Invalid ConditionExpression: Syntax error; token: \"=\"")]
    [InlineData("leaseCounter = :undefined", "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :undefined")]
    [InlineData("#undefined = :v", "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #undefined")]
    [InlineData("status = :v", "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status")]
    [InlineData("attribute_exists(:v)", "Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_exists")]
    [InlineData("nosuch(leaseKey)", "Invalid ConditionExpression: Invalid function name; function: nosuch")]
    [InlineData("", "Invalid ConditionExpression: The expression can not be empty;")]
    [InlineData("leaseCounter = :v AND", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\"")]
    public void ConditionErrors(string condition, string message)
    {
        var ex = Assert.Throws<DynamoDbException>(() => Parser.ParseCondition(condition, "ConditionExpression", new ExpressionContext(null, V((":v", N("1"))))));
        Assert.Equal("ValidationException", ex.Type);
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnusedNamesAndValuesAreRejected()
    {
        var context = new ExpressionContext(new Dictionary<string, string> { ["#a"] = "a", ["#b"] = "b" }, V((":v", N("1")), (":w", N("2"))));
        Parser.ParseCondition("#a = :v", "ConditionExpression", context);
        var ex = Assert.Throws<DynamoDbException>(context.ThrowIfUnused);
        Assert.Equal("Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}", ex.Message);
    }

    private static Dictionary<string, AttributeValue> Update(string expression, params (string Name, AttributeValue Value)[] values) =>
        Evaluator.ApplyUpdate(Parser.ParseUpdate(expression, new ExpressionContext(null, V(values))), Lease());

    [Fact]
    public void TakeRenewEvictAsTheKclWritesThem()
    {
        var taken = Update("SET leaseCounter = leaseCounter + :one, leaseOwner = :w ADD ownerSwitchesSinceCheckpoint :one REMOVE checkpointOwner",
            (":one", N("1")), (":w", S("worker-b")));
        Assert.Equal(N("8"), taken["leaseCounter"]);
        Assert.Equal(S("worker-b"), taken["leaseOwner"]);
        Assert.Equal(N("1"), taken["ownerSwitchesSinceCheckpoint"]);

        var evicted = Update("REMOVE leaseOwner ADD leaseCounter :one", (":one", N("1")));
        Assert.False(evicted.ContainsKey("leaseOwner"));
        Assert.Equal(N("8"), evicted["leaseCounter"]);
    }

    [Fact]
    public void SetOperandsReadTheItemBeforeTheUpdate()
    {
        var swapped = Update("SET a = leaseCounter, leaseCounter = leaseCounter - :one", (":one", N("1")));
        Assert.Equal(N("7"), swapped["a"]);
        Assert.Equal(N("6"), swapped["leaseCounter"]);
    }

    [Fact]
    public void SetsListsAndDocuments()
    {
        var updated = Update(
            "SET doc.elems[5] = :y, doc.n = if_not_exists(doc.n, :zero), tags = list_append(:first, if_not_exists(tags, :empty)) " +
            "ADD parentShardId :more DELETE kids :none REMOVE doc.elems[0]",
            (":y", S("y")), (":zero", N("0")), (":first", AttributeValue.FromL([S("t")])), (":empty", AttributeValue.FromL([])),
            (":more", AttributeValue.FromSS(["shardId-000000000000", "shardId-x"])), (":none", AttributeValue.FromSS(["k"])));
        Assert.Equal(AttributeValue.FromL([N("2"), S("y")]), updated["doc"].M["elems"]);
        Assert.Equal(N("0"), updated["doc"].M["n"]);
        Assert.Equal(AttributeValue.FromL([S("t")]), updated["tags"]);
        Assert.Equal(AttributeValue.FromSS(["shardId-x", "shardId-000000000000"]), updated["parentShardId"]); // sets compare as sets
        Assert.False(updated.ContainsKey("kids"));

        var emptied = Update("DELETE parentShardId :all", (":all", AttributeValue.FromSS(["shardId-000000000000"])));
        Assert.False(emptied.ContainsKey("parentShardId"));
    }

    [Theory]
    [InlineData("SET leaseCounter = leaseOwner + :one", "An operand in the update expression has an incorrect data type")]
    [InlineData("SET a = notThere + :one", "The provided expression refers to an attribute that does not exist in the item")]
    [InlineData("SET nope.deeper = :one", "The document path provided in the update expression is invalid for update")]
    [InlineData("ADD leaseOwner :one", "An operand in the update expression has an incorrect data type")]
    public void UpdateEvaluationErrors(string expression, string message)
    {
        var ex = Assert.Throws<DynamoDbException>(() => Update(expression, (":one", N("1"))));
        Assert.Equal(message, ex.Message);
    }

    [Theory]
    [InlineData("SET a = :one SET b = :one", "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;")]
    [InlineData("SET a = :one REMOVE a", "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]")]
    [InlineData("ADD a :s", "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING")]
    [InlineData("SET a = size(b)", "Invalid UpdateExpression: The function is not allowed in a update expression; function: size")]
    [InlineData("SET a :one", "Invalid UpdateExpression: Syntax error; token: \":one\"")]
    public void UpdateParseErrors(string expression, string message)
    {
        var ex = Assert.Throws<DynamoDbException>(() => Parser.ParseUpdate(expression, new ExpressionContext(null, V((":one", N("1")), (":s", S("s"))))));
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ProjectionKeepsNestedShape()
    {
        var paths = Parser.ParseProjection("leaseKey, doc.elems[1], nothing", ExpressionContext.Empty);
        var projected = Evaluator.Project(Lease(), paths);
        Assert.Equal(["doc", "leaseKey"], projected.Keys.Order());
        Assert.Equal(AttributeValue.FromL([N("2")]), projected["doc"].M["elems"]);
    }
}
