using FsCheck;
using FsCheck.Xunit;
using Millrace.Iam.Policies;
using Millrace.Protocol.Auth;
using Millrace.Protocol.Models;

namespace Millrace.Iam.Tests;

/// <summary>IAM's evaluation logic as the IAM User Guide documents it, rule by rule, and the action table's coverage.</summary>
public sealed class PolicyEvaluatorTests
{
    private const string Stream = "arn:aws:kinesis:us-east-1:000000000000:stream/orders";

    private static readonly CallerIdentity Alice = new(PrincipalKind.User, "000000000000", "arn:aws:iam::000000000000:user/alice", "AIDAALICE", "AKIAALICE", "alice");

    private static readonly CallerIdentity Root = new(PrincipalKind.Root, "000000000000", "arn:aws:iam::000000000000:root", "000000000000", "AKIAROOT", "");

    private static AuthorizationRequest Request(string action = "kinesis:PutRecord", string resource = Stream, CallerIdentity? caller = null,
        params (string Key, string[] Values)[] keys)
    {
        var dictionary = RequestKeys.Of(caller ?? Alice, new RequestFacts("127.0.0.1", false, "us-east-1", DateTimeOffset.Parse("2026-12-07T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture)));
        foreach (var (key, values) in keys)
        {
            dictionary[key] = values;
        }

        return new AuthorizationRequest(action, resource, caller ?? Alice, dictionary);
    }

    private static PolicyDocument Policy(string statements) => PolicyDocument.Parse($$"""{"Version":"2012-10-17","Statement":[{{statements}}]}""");

    private static Decision Identity(string statements, AuthorizationRequest? request = null) =>
        PolicyEvaluator.Evaluate(request ?? Request(), [Policy(statements)], null);

    [Fact]
    public void Nothing_allows_by_default() => Assert.Equal(Decision.ImplicitDeny, PolicyEvaluator.Evaluate(Request(), [], null));

    [Theory]
    [InlineData("kinesis:PutRecord", true)]
    [InlineData("kinesis:Put*", true)]
    [InlineData("KINESIS:putrecord", true)]
    [InlineData("kinesis:PutRecord?", false)]
    [InlineData("kinesis:PutRecor?", true)]
    [InlineData("kinesis:Get*", false)]
    [InlineData("*", true)]
    public void Actions_match_with_wildcards_case_insensitively(string action, bool allowed) =>
        Assert.Equal(allowed ? Decision.Allow : Decision.ImplicitDeny, Identity($$"""{"Effect":"Allow","Action":"{{action}}","Resource":"*"}"""));

    [Theory]
    [InlineData("arn:aws:kinesis:us-east-1:000000000000:stream/orders", true)]
    [InlineData("arn:aws:kinesis:us-east-1:000000000000:stream/ord*", true)]
    [InlineData("arn:aws:kinesis:*:*:stream/*", true)]
    [InlineData("arn:aws:kinesis:us-east-1:000000000000:stream/Orders", false)]
    [InlineData("arn:aws:kinesis:us-east-1:000000000000:stream/orders/x", false)]
    public void Resources_match_with_wildcards_case_sensitively(string resource, bool allowed) =>
        Assert.Equal(allowed ? Decision.Allow : Decision.ImplicitDeny, Identity($$"""{"Effect":"Allow","Action":"kinesis:*","Resource":"{{resource}}"}"""));

    [Fact]
    public void NotAction_and_NotResource_allow_everything_else()
    {
        Assert.Equal(Decision.Allow, Identity("""{"Effect":"Allow","NotAction":"kinesis:Delete*","Resource":"*"}"""));
        Assert.Equal(Decision.ImplicitDeny, Identity("""{"Effect":"Allow","NotAction":"kinesis:Put*","Resource":"*"}"""));
        Assert.Equal(Decision.Allow, Identity("""{"Effect":"Allow","Action":"*","NotResource":"arn:aws:kinesis:*:*:stream/audit"}"""));
        Assert.Equal(Decision.ImplicitDeny, Identity("""{"Effect":"Allow","Action":"*","NotResource":"arn:aws:kinesis:*:*:stream/ord*"}"""));
    }

    [Property(MaxTest = 200)]
    public bool An_explicit_deny_wins_over_any_allow(bool denyInResourcePolicy, PositiveInt allows)
    {
        var allow = string.Join(',', Enumerable.Repeat("""{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}""", Math.Min(allows.Get, 5)));
        var identity = Policy(allow + (denyInResourcePolicy ? "" : """,{"Effect":"Deny","Action":"kinesis:PutRecord","Resource":"*"}"""));
        var resource = denyInResourcePolicy ? Policy("""{"Effect":"Deny","Principal":"*","Action":"kinesis:PutRecord","Resource":"*"}""") : null;
        var decision = PolicyEvaluator.Evaluate(Request(), [identity], resource);
        return decision == (denyInResourcePolicy ? Decision.ExplicitResourceDeny : Decision.ExplicitIdentityDeny);
    }

    [Fact]
    public void A_resource_policy_naming_the_user_allows_alone_and_the_account_only_delegates()
    {
        var named = Policy($$"""{"Effect":"Allow","Principal":{"AWS":"{{Alice.Arn}}"},"Action":"kinesis:PutRecord","Resource":"{{Stream}}"}""");
        Assert.Equal(Decision.Allow, PolicyEvaluator.Evaluate(Request(), [], named));
        var account = Policy($$"""{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kinesis:PutRecord","Resource":"{{Stream}}"}""");
        Assert.Equal(Decision.ImplicitDeny, PolicyEvaluator.Evaluate(Request(), [], account));
        Assert.Equal(Decision.Allow, PolicyEvaluator.Evaluate(Request(caller: Root), [], account));
    }

    [Fact]
    public void Root_is_allowed_unless_a_resource_policy_denies()
    {
        Assert.Equal(Decision.Allow, PolicyEvaluator.Evaluate(Request(caller: Root), [], null));
        var deny = Policy("""{"Effect":"Deny","Principal":"*","Action":"kinesis:*","Resource":"*"}""");
        Assert.Equal(Decision.ExplicitResourceDeny, PolicyEvaluator.Evaluate(Request(caller: Root), [], deny));
    }

    [Fact]
    public void A_session_policy_narrows_the_role()
    {
        var role = Policy("""{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}""");
        var session = Policy("""{"Effect":"Allow","Action":"kinesis:Get*","Resource":"*"}""");
        Assert.Equal(Decision.SessionPolicyDeny, PolicyEvaluator.Evaluate(Request(), [role], null, session));
        Assert.Equal(Decision.Allow, PolicyEvaluator.Evaluate(Request("kinesis:GetRecords"), [role], null, session));
    }

    [Theory]
    [InlineData("""{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}""", true)]
    [InlineData("""{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.1"]}}""", true)]
    [InlineData("""{"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}}""", false)]
    [InlineData("""{"Bool":{"aws:SecureTransport":"false"}}""", true)]
    [InlineData("""{"Bool":{"aws:SecureTransport":true}}""", false)]
    [InlineData("""{"StringEquals":{"aws:username":"alice"}}""", true)]
    [InlineData("""{"StringEquals":{"aws:username":"ALICE"}}""", false)]
    [InlineData("""{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}""", true)]
    [InlineData("""{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/al*"}}""", true)]
    [InlineData("""{"StringNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/al*"}}""", false)]
    [InlineData("""{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::000000000000:user/*"}}""", true)]
    [InlineData("""{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}""", false)]
    [InlineData("""{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}""", true)]
    [InlineData("""{"DateGreaterThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}""", false)]
    [InlineData("""{"NumericLessThan":{"s3:max-keys":"10"}}""", false)]
    [InlineData("""{"NumericLessThanIfExists":{"s3:max-keys":"10"}}""", true)]
    [InlineData("""{"StringNotEquals":{"s3:prefix":"private/"}}""", true)]
    [InlineData("""{"Null":{"s3:prefix":"true"}}""", true)]
    [InlineData("""{"Null":{"aws:username":"true"}}""", false)]
    [InlineData("""{"StringEquals":{"aws:username":"alice"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}""", false)]
    public void Conditions_hold_as_documented(string condition, bool allowed) =>
        Assert.Equal(allowed ? Decision.Allow : Decision.ImplicitDeny,
            Identity($$"""{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{{condition}}}"""));

    [Fact]
    public void Multivalued_keys_follow_ForAnyValue_and_ForAllValues()
    {
        var request = Request(keys: ("aws:TagKeys", ["env", "team"]));
        Assert.Equal(Decision.Allow, Identity("""{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}}""", request));
        Assert.Equal(Decision.ImplicitDeny, Identity("""{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}}""", request));
        Assert.Equal(Decision.Allow, Identity("""{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team","x"]}}}""", request));
    }

    [Fact]
    public void Policy_variables_are_substituted()
    {
        var request = Request("s3:GetObject", "arn:aws:s3:::bucket/alice/report.txt");
        Assert.Equal(Decision.Allow, Identity("""{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:username}/*"}""", request));
        var other = Request("s3:GetObject", "arn:aws:s3:::bucket/bob/report.txt");
        Assert.Equal(Decision.ImplicitDeny, Identity("""{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:username}/*"}""", other));
    }

    [Fact]
    public void The_denial_message_is_AWSs()
    {
        Assert.Equal(
            $"User: {Alice.Arn} is not authorized to perform: kinesis:PutRecord on resource: {Stream} because no identity-based policy allows the kinesis:PutRecord action",
            PolicyEvaluator.DenialMessage(Request(), Decision.ImplicitDeny));
        Assert.Equal(
            $"User: {Alice.Arn} is not authorized to perform: kinesis:PutRecord on resource: {Stream} with an explicit deny in an identity-based policy",
            PolicyEvaluator.DenialMessage(Request(), Decision.ExplicitIdentityDeny));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("""{"Version":"2012-10-17"}""")]
    [InlineData("""{"Statement":{"Effect":"Maybe","Action":"*","Resource":"*"}}""")]
    [InlineData("""{"Statement":{"Effect":"Allow","Resource":"*"}}""")]
    [InlineData("""{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringWhatever":{"a":"b"}}}}""")]
    [InlineData("""{"Version":"2099-01-01","Statement":[]}""")]
    public void Malformed_documents_are_refused(string text) => Assert.Throws<PolicySyntaxException>(() => PolicyDocument.Parse(text));

    [Property(MaxTest = 500)]
    public bool Arbitrary_text_parses_or_is_refused_with_a_syntax_error(NonNull<string> text)
    {
        try
        {
            PolicyDocument.Parse(text.Get);
            return true;
        }
        catch (PolicySyntaxException)
        {
            return true;
        }
    }

    [Fact]
    public void The_managed_policies_parse_and_grant_what_their_names_say()
    {
        foreach (var policy in ManagedPolicies.All)
        {
            PolicyDocument.Parse(policy.Document);
        }

        var readOnly = PolicyDocument.Parse(ManagedPolicies.Find("arn:aws:iam::aws:policy/AmazonKinesisReadOnlyAccess")!.Document);
        Assert.Equal(Decision.Allow, PolicyEvaluator.Evaluate(Request("kinesis:DescribeStreamSummary"), [readOnly], null));
        Assert.Equal(Decision.ImplicitDeny, PolicyEvaluator.Evaluate(Request("kinesis:PutRecord"), [readOnly], null));
        var s3Full = PolicyDocument.Parse(ManagedPolicies.Find("arn:aws:iam::aws:policy/AmazonS3FullAccess")!.Document);
        Assert.Equal(Decision.Allow, PolicyEvaluator.Evaluate(Request("s3:PutObject", "arn:aws:s3:::b/k"), [s3Full], null));
    }

    [Theory]
    [InlineData("kinesis")]
    [InlineData("firehose")]
    [InlineData("dynamodb")]
    [InlineData("s3")]
    [InlineData("lambda")]
    [InlineData("logs")]
    [InlineData("glue")]
    [InlineData("iam")]
    [InlineData("sts")]
    public void Every_operation_of_every_served_service_has_its_IAM_action(string service)
    {
        var missing = ServiceModel.Get(service).Operations.Keys.Where(op => ActionTable.Find(service, op) is null).ToList();
        Assert.True(missing.Count == 0, $"{service}: no IAM action for {string.Join(", ", missing)}");
        Assert.Equal("kinesis:PutRecord", ActionTable.Find("kinesis", "PutRecord")!.Action);
        Assert.Equal("s3:ListBucket", ActionTable.Find("s3", "ListObjectsV2")!.Action);
        Assert.Equal("lambda:InvokeFunction", ActionTable.Find("lambda", "Invoke")!.Action);
    }
}
