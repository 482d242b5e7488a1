using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace Millrace.Firehose.Redshift;

/// <summary>A Redshift destination's cluster: the parsed <c>ClusterJDBCURL</c> and the Npgsql connection string it becomes.</summary>
public sealed partial record RedshiftConnection(string Host, int Port, string Database, string Username, string ConnectionString)
{
    /// <summary>
    /// Millrace's relaxation of the model's ClusterJDBCURL pattern: the model only admits <c>*.redshift[-serverless].*</c>
    /// host names, Millrace takes any host (PostgreSQL stands in for Redshift) but keeps the scheme, the required port
    /// and the database name rules.
    /// </summary>
    public const string Pattern = @"jdbc:(redshift|postgresql)://(host|[ipv6]):\d{1,5}/[a-zA-Z0-9_$-]+[?params]";

    [GeneratedRegex(@"^jdbc:(?<scheme>redshift|postgresql)://(?<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\]):(?<port>\d{1,5})/(?<db>[a-zA-Z0-9_$-]+)(?:\?(?<params>[^#]*))?$", RegexOptions.CultureInvariant)]
    private static partial Regex JdbcUrl();

    /// <summary>
    /// Parses <c>jdbc:postgresql://host:port/db[?params]</c> or <c>jdbc:redshift://host:port/db[?params]</c>.
    /// Understood parameters: <c>ssl</c>, <c>sslmode</c>, <c>ApplicationName</c>, <c>connectTimeout</c>/<c>loginTimeout</c>
    /// (seconds), <c>socketTimeout</c> (seconds, the command timeout) and <c>currentSchema</c>; like the JDBC drivers,
    /// others are ignored.
    /// </summary>
    /// <exception cref="RedshiftConfigurationException">The URL is not a JDBC URL of that form.</exception>
    public static RedshiftConnection Parse(string clusterJdbcUrl, string username, string password)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        var match = clusterJdbcUrl is { Length: >= 1 and <= 512 } ? JdbcUrl().Match(clusterJdbcUrl) : Match.Empty;
        if (!match.Success || !int.TryParse(match.Groups["port"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw Invalid(clusterJdbcUrl);
        }

        var host = match.Groups["host"].Value.Trim('[', ']');
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = host,
            Port = port,
            Database = match.Groups["db"].Value,
            Username = username,
            Password = password,
            Timeout = 15,
            CommandTimeout = 300,
            ApplicationName = "Millrace Firehose",
            SslMode = SslMode.Prefer,
        };
        if (match.Groups["params"].Success)
        {
            foreach (var pair in match.Groups["params"].Value.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                var name = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
                var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
                Apply(builder, name, value, clusterJdbcUrl);
            }
        }

        return new RedshiftConnection(host, port, builder.Database!, username, builder.ConnectionString);
    }

    private static void Apply(NpgsqlConnectionStringBuilder builder, string name, string value, string url)
    {
        switch (name.ToLowerInvariant())
        {
            case "ssl":
                builder.SslMode = value is "" or "true" or "1" ? SslMode.Require : SslMode.Disable;
                break;
            case "sslmode":
                builder.SslMode = value.ToLowerInvariant() switch
                {
                    "disable" => SslMode.Disable,
                    "allow" => SslMode.Allow,
                    "prefer" => SslMode.Prefer,
                    "require" => SslMode.Require,
                    "verify-ca" => SslMode.VerifyCA,
                    "verify-full" => SslMode.VerifyFull,
                    _ => throw Invalid(url),
                };
                break;
            case "applicationname":
                builder.ApplicationName = value;
                break;
            case "connecttimeout" or "logintimeout":
                builder.Timeout = Seconds(value, url);
                break;
            case "sockettimeout":
                builder.CommandTimeout = Seconds(value, url);
                break;
            case "currentschema":
                builder.SearchPath = value;
                break;
            default:
                break;
        }
    }

    private static int Seconds(string value, string url) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s <= 3600 ? s : throw Invalid(url);

    private static RedshiftConfigurationException Invalid(string? url) => new(
        $"1 validation error detected: Value '{Redact(url)}' at 'redshiftDestinationConfiguration.clusterJDBCURL' failed to satisfy constraint: " +
        $"Member must satisfy regular expression pattern: {Pattern}");

    // The query string may carry credentials (password=...), so it is never echoed.
    private static string Redact(string? url) => url is null ? "null" : url.Split('?')[0];
}

/// <summary>An invalid Redshift destination setting; <see cref="ErrorType"/> is the Firehose error it surfaces as.</summary>
public sealed class RedshiftConfigurationException(string message) : ArgumentException(message)
{
    public string ErrorType => "InvalidArgumentException";
}
