using System.Buffers;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Xunit;
using Millrace.Firehose.Http;

namespace Millrace.Firehose.Tests.Http;

public sealed class HttpEndpointClientTests
{
    private static readonly DateTimeOffset s_start = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private const string Arn = "arn:aws:firehose:us-east-1:123456789012:deliverystream/web";

    private static IReadOnlyList<ReadOnlyMemory<byte>> Records(params string[] data) =>
        data.Select(d => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(d)).ToList();

    private static HttpEndpointTarget Target(EndpointServer server, HttpContentEncoding encoding = HttpContentEncoding.None) => new()
    {
        Url = server.Url,
        SourceArn = Arn,
        Name = "local",
        AccessKey = "secret-key",
        CommonAttributes = new Dictionary<string, string> { ["env"] = "test", ["empty"] = "" },
        ContentEncoding = encoding,
    };

    [Fact]
    public async Task Sends_the_headers_and_body_exactly_as_firehose()
    {
        await using var server = await EndpointServer.StartAsync((c, r, _) => EndpointServer.Ok(c, r));
        using var client = new HttpEndpointClient(new SkippingClock(s_start));

        var outcome = await client.SendAsync(Target(server), "req-1", Records("hello", "", "{\"a\":1}"), s_timeout, CancellationToken.None);

        Assert.True(outcome.IsDelivered, outcome.ErrorMessage);
        Assert.Equal(200, outcome.HttpStatusCode);
        var request = Assert.Single(server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/ingest", request.Path);
        Assert.Equal("1.0", request.Header("X-Amz-Firehose-Protocol-Version"));
        Assert.Equal("req-1", request.Header("X-Amz-Firehose-Request-Id"));
        Assert.Equal(Arn, request.Header("X-Amz-Firehose-Source-Arn"));
        Assert.Equal("secret-key", request.Header("X-Amz-Firehose-Access-Key"));
        Assert.Equal("""{"commonAttributes":{"env":"test","empty":""}}""", request.Header("X-Amz-Firehose-Common-Attributes"));
        Assert.Equal("application/json", request.Header("Content-Type"));
        Assert.Null(request.Header("Content-Encoding"));
        Assert.Equal(HttpEndpointClient.UserAgent, request.Header("User-Agent"));
        Assert.Equal(request.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), request.Header("Content-Length"));
        Assert.Equal(
            """{"requestId":"req-1","timestamp":1700000000000,"records":[{"data":"aGVsbG8="},{"data":""},{"data":"eyJhIjoxfQ=="}]}""",
            Encoding.UTF8.GetString(request.Body));
    }

    [Fact]
    public async Task Leaves_out_the_access_key_and_common_attributes_when_not_configured()
    {
        await using var server = await EndpointServer.StartAsync((c, r, _) => EndpointServer.Ok(c, r));
        using var client = new HttpEndpointClient();

        var outcome = await client.SendAsync(new HttpEndpointTarget { Url = server.Url, SourceArn = Arn }, "req-2", Records("x"), s_timeout, CancellationToken.None);

        Assert.True(outcome.IsDelivered, outcome.ErrorMessage);
        var request = Assert.Single(server.Requests);
        Assert.Null(request.Header("X-Amz-Firehose-Access-Key"));
        Assert.Null(request.Header("X-Amz-Firehose-Common-Attributes"));
    }

    [Fact]
    public async Task Gzip_encoding_compresses_the_same_body()
    {
        await using var server = await EndpointServer.StartAsync((c, r, _) => EndpointServer.Ok(c, r));
        using var client = new HttpEndpointClient(new SkippingClock(s_start));

        var outcome = await client.SendAsync(Target(server, HttpContentEncoding.Gzip), "req-3", Records("hello"), s_timeout, CancellationToken.None);

        Assert.True(outcome.IsDelivered, outcome.ErrorMessage);
        var request = Assert.Single(server.Requests);
        Assert.Equal("gzip", request.Header("Content-Encoding"));
        Assert.Equal("application/json", request.Header("Content-Type"));
        using var gzip = new GZipStream(new MemoryStream(request.Body), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        Assert.Equal("""{"requestId":"req-3","timestamp":1700000000000,"records":[{"data":"aGVsbG8="}]}""", await reader.ReadToEndAsync());
    }

    [Fact]
    public async Task A_server_that_fails_twice_then_succeeds_gets_three_attempts_with_one_request_id()
    {
        await using var server = await EndpointServer.StartAsync((c, r, i) => i < 2
            ? EndpointServer.Reply(c, 503, """{"requestId":"x","timestamp":1,"errorMessage":"busy"}""")
            : EndpointServer.Ok(c, r));
        using var client = new HttpEndpointClient();
        var clock = new SkippingClock(s_start);

        var outcome = await HttpEndpointDelivery.DeliverWithRetriesAsync(client, Target(server), Records("a", "b"), 300, clock, CancellationToken.None, s_timeout, new Random(7));

        Assert.True(outcome.IsDelivered, outcome.ErrorMessage);
        Assert.Equal(3, outcome.AttemptsMade);
        var requests = server.Requests.ToArray();
        Assert.Equal(3, requests.Length);
        var id = requests[0].Header("X-Amz-Firehose-Request-Id");
        Assert.All(requests, r => Assert.Equal(id, r.Header("X-Amz-Firehose-Request-Id")));
        Assert.All(requests, r => Assert.Equal(id, JsonDocument.Parse(r.Body).RootElement.GetProperty("requestId").GetString()));
        Assert.Equal(id, outcome.RequestId);
        // Two backoffs: about 1 s then about 2 s.
        Assert.Equal(2, clock.Sleeps.Count);
        Assert.InRange(clock.Sleeps[0].TotalSeconds, 0.85, 1.15);
        Assert.InRange(clock.Sleeps[1].TotalSeconds, 1.7, 2.3);
        Assert.Equal(s_start + clock.Sleeps[0] + clock.Sleeps[1], outcome.AttemptEndingTimestamp);
    }

    [Fact]
    public async Task An_endpoint_that_does_not_answer_in_time_is_a_retryable_request_timeout()
    {
        await using var server = await EndpointServer.StartAsync(async (c, _, _) => await Task.Delay(Timeout.Infinite, c.RequestAborted));
        using var client = new HttpEndpointClient();

        var outcome = await client.SendAsync(Target(server), "req-4", Records("x"), TimeSpan.FromMilliseconds(300), CancellationToken.None);

        Assert.Equal(HttpDeliveryStatus.RetryableFailure, outcome.Status);
        Assert.Equal(HttpEndpointErrorCodes.RequestTimeout, outcome.ErrorCode);
        Assert.True(outcome.WritesErrorOutput);
    }

    [Fact]
    public async Task A_413_is_permanent_not_retried_and_not_written_to_the_error_output()
    {
        await using var server = await EndpointServer.StartAsync((c, r, _) => EndpointServer.Reply(c, 413,
            $$"""{"requestId":"{{r.Header("X-Amz-Firehose-Request-Id")}}","timestamp":1,"errorMessage":"Payload too large"}"""));
        using var client = new HttpEndpointClient();

        var outcome = await HttpEndpointDelivery.DeliverWithRetriesAsync(client, Target(server), Records("x"), 300, new SkippingClock(s_start), CancellationToken.None, s_timeout);

        Assert.Equal(HttpDeliveryStatus.PermanentFailure, outcome.Status);
        Assert.Equal(1, outcome.AttemptsMade);
        Assert.Single(server.Requests);
        Assert.False(outcome.WritesErrorOutput);
        Assert.Equal(413, outcome.HttpStatusCode);
        Assert.Equal(HttpEndpointErrorCodes.DestinationException, outcome.ErrorCode);
        Assert.Equal("Payload too large", outcome.EndpointErrorMessage);
        Assert.StartsWith("The following response was received from the endpoint destination. 413: {", outcome.ErrorMessage);
    }

    [Fact]
    public async Task A_200_with_another_request_id_is_an_invalid_response()
    {
        await using var server = await EndpointServer.StartAsync((c, _, _) => EndpointServer.Reply(c, 200, """{"requestId":"someone-else","timestamp":1}"""));
        using var client = new HttpEndpointClient();

        var outcome = await client.SendAsync(Target(server), "req-5", Records("x"), s_timeout, CancellationToken.None);

        Assert.Equal(HttpDeliveryStatus.RetryableFailure, outcome.Status);
        Assert.Equal(HttpEndpointErrorCodes.InvalidResponseFromDestination, outcome.ErrorCode);
        Assert.Contains("someone-else", outcome.ErrorMessage);
    }

    [Theory]
    [InlineData("not json", "application/json")]
    [InlineData("", "application/json")]
    [InlineData("""{"requestId":"req-6"}""", "application/json")]
    [InlineData("""{"requestId":"req-6","timestamp":"1"}""", "application/json")]
    [InlineData("""{"requestId":"req-6","timestamp":1}""", "text/plain")]
    [InlineData("""{"requestId":"req-6","timestamp":1} {}""", "application/json")]
    public async Task A_200_that_breaks_the_response_specification_is_an_invalid_response(string body, string contentType)
    {
        await using var server = await EndpointServer.StartAsync((c, _, _) => EndpointServer.Reply(c, 200, body, contentType));
        using var client = new HttpEndpointClient();

        var outcome = await client.SendAsync(Target(server), "req-6", Records("x"), s_timeout, CancellationToken.None);

        Assert.Equal(HttpEndpointErrorCodes.InvalidResponseFromDestination, outcome.ErrorCode);
        Assert.Equal(HttpDeliveryStatus.RetryableFailure, outcome.Status);
    }

    [Fact]
    public async Task A_conforming_200_may_carry_extra_fields()
    {
        await using var server = await EndpointServer.StartAsync((c, r, _) => EndpointServer.Reply(c, 200,
            $$"""{"timestamp":5,"extra":{"nested":[1,2]},"requestId":"{{r.Header("X-Amz-Firehose-Request-Id")}}"}""", "application/json; charset=utf-8"));
        using var client = new HttpEndpointClient();

        var outcome = await client.SendAsync(Target(server), "req-7", Records("x"), s_timeout, CancellationToken.None);

        Assert.True(outcome.IsDelivered, outcome.ErrorMessage);
    }

    [Fact]
    public async Task A_response_body_over_one_mebibyte_is_too_large()
    {
        await using var server = await EndpointServer.StartAsync((c, _, _) => EndpointServer.Reply(c, 200, new string(' ', HttpEndpointClient.MaxResponseBytes + 1)));
        using var client = new HttpEndpointClient();

        var outcome = await client.SendAsync(Target(server), "req-8", Records("x"), s_timeout, CancellationToken.None);

        Assert.Equal(HttpEndpointErrorCodes.ResponseTooLarge, outcome.ErrorCode);
        Assert.Equal(HttpDeliveryStatus.RetryableFailure, outcome.Status);
    }

    [Fact]
    public async Task Redirects_are_not_followed()
    {
        await using var server = await EndpointServer.StartAsync((c, r, _) =>
        {
            if (r.Path == "/ingest")
            {
                c.Response.StatusCode = 302;
                c.Response.Headers.Location = "/elsewhere";
                return Task.CompletedTask;
            }

            return EndpointServer.Ok(c, r);
        });
        using var client = new HttpEndpointClient();

        var outcome = await client.SendAsync(Target(server), "req-9", Records("x"), s_timeout, CancellationToken.None);

        Assert.Equal(302, outcome.HttpStatusCode);
        Assert.Equal(HttpEndpointErrorCodes.DestinationException, outcome.ErrorCode);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_refused_connection_is_a_connection_failure()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var client = new HttpEndpointClient();

        var outcome = await client.SendAsync(new HttpEndpointTarget { Url = $"http://127.0.0.1:{port}/", SourceArn = Arn }, "req-10", Records("x"), s_timeout, CancellationToken.None);

        Assert.Equal(HttpEndpointErrorCodes.ConnectionFailed, outcome.ErrorCode);
        Assert.Equal(HttpDeliveryStatus.RetryableFailure, outcome.Status);
    }

    [Fact]
    public async Task Retries_stop_at_the_retry_deadline_with_the_attempts_counted()
    {
        await using var server = await EndpointServer.StartAsync((c, _, _) => EndpointServer.Reply(c, 500, """{"requestId":"x","timestamp":1,"errorMessage":"down"}"""));
        using var client = new HttpEndpointClient();
        var clock = new SkippingClock(s_start);

        var outcome = await HttpEndpointDelivery.DeliverWithRetriesAsync(client, Target(server), Records("x"), 10, clock, CancellationToken.None, s_timeout, new Random(3));

        // Sleeps of about 1, 2 and 4 s leave about 3 s; the fourth (about 8 s) is cut to end exactly at the deadline.
        Assert.Equal(HttpDeliveryStatus.RetryableFailure, outcome.Status);
        Assert.Equal(5, outcome.AttemptsMade);
        Assert.Equal(5, server.Requests.Count);
        Assert.Equal(s_start + TimeSpan.FromSeconds(10), outcome.AttemptEndingTimestamp);
        Assert.Equal(HttpEndpointErrorCodes.DestinationException, outcome.ErrorCode);
        Assert.Equal("down", outcome.EndpointErrorMessage);
        Assert.True(outcome.WritesErrorOutput);
    }

    [Fact]
    public async Task A_retry_duration_of_zero_makes_one_attempt()
    {
        await using var server = await EndpointServer.StartAsync((c, _, _) => EndpointServer.Reply(c, 500, "{}"));
        using var client = new HttpEndpointClient();
        var clock = new SkippingClock(s_start);

        var outcome = await HttpEndpointDelivery.DeliverWithRetriesAsync(client, Target(server), Records("x"), 0, clock, CancellationToken.None, s_timeout);

        Assert.Equal(1, outcome.AttemptsMade);
        Assert.Empty(clock.Sleeps);
    }

    [Fact]
    public void The_error_record_has_the_fields_firehose_writes()
    {
        var record = new Millrace.Firehose.Delivery.FirehoseRecord(4960735736127174081, 0, 1594265943615, "sample raw data"u8.ToArray(), null);
        var failed = new Millrace.Firehose.Delivery.FailedRecord(record, "http-endpoint-failed", HttpEndpointErrorCodes.DestinationException,
            "The following response was received from the endpoint destination. 500: {}", 5, 1594266081318);

        Assert.Equal(
            """{"attemptsMade":5,"arrivalTimestamp":1594265943615,"errorCode":"HttpEndpoint.DestinationException","errorMessage":"The following response was received from the endpoint destination. 500: {}","attemptEndingTimestamp":1594266081318,"rawData":"c2FtcGxlIHJhdyBkYXRh","subsequenceNumber":0,"dataId":"4960735736127174081.0"}""" + "\n",
            Encoding.UTF8.GetString(Millrace.Firehose.Delivery.FailedRecord.Lines([failed])));
    }

    [Property(MaxTest = 200)]
    public bool Backoff_doubles_from_one_second_within_fifteen_percent_and_is_capped_at_two_minutes(NonNegativeInt retry, int seed)
    {
        var nominal = Math.Min(120, Math.Pow(2, Math.Min(retry.Get, 30)));
        var backoff = HttpEndpointDelivery.Backoff(retry.Get, new Random(seed)).TotalSeconds;
        return backoff >= nominal * 0.85 - 1e-9 && backoff <= nominal * 1.15 + 1e-9;
    }
}
