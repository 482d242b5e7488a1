using Microsoft.AspNetCore.Http;

namespace Millrace.S3;

/// <summary>Picks the S3 operation from the method, the bucket/key and the sub-resource query parameters.</summary>
public sealed partial class S3Service
{
    /// <summary>Sub-resources S3 has that Millrace does not serve: 501 NotImplemented rather than a wrong answer.</summary>
    private static readonly string[] UnsupportedSubresources =
    [
        "acl", "analytics", "accelerate", "cors", "encryption", "intelligent-tiering", "inventory", "legal-hold",
        "lifecycle", "logging", "metrics", "object-lock", "ownershipControls", "policyStatus",
        "publicAccessBlock", "replication", "requestPayment", "restore", "retention", "select", "torrent",
        "versions", "website", "metadataTable", "session", "renameObject",
    ];

    /// <summary>Bucket settings Millrace never has: GET answers S3's "not configured" error for each.</summary>
    private static readonly (string Subresource, int Status, string Code, string Message)[] UnconfiguredBucketSettings =
    [
        ("cors", 404, "NoSuchCORSConfiguration", "The CORS configuration does not exist"),
        ("lifecycle", 404, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"),
        ("website", 404, "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"),
        ("encryption", 404, "ServerSideEncryptionConfigurationNotFoundError", "The server side encryption configuration was not found"),
        ("publicAccessBlock", 404, "NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found"),
        ("replication", 404, "ReplicationConfigurationNotFoundError", "The replication configuration was not found"),
        ("ownershipControls", 404, "OwnershipControlsNotFoundError", "The bucket ownership controls were not found"),
        ("object-lock", 404, "ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket"),
    ];

    private Task DispatchAsync(S3Request request)
    {
        var method = request.Method;
        if (request.Bucket is null)
        {
            if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
            {
                return ListBucketsAsync(request);
            }

            throw S3Errors.MethodNotAllowed(method, "SERVICE");
        }

        if (request.Key is not null)
        {
            S3Request.CheckKey(request.Key);
            return DispatchObject(request, method);
        }

        return DispatchBucket(request, method);
    }

    private Task DispatchBucket(S3Request r, string method)
    {
        if (HttpMethods.IsGet(method))
        {
            if (r.Has("location"))
            {
                return GetBucketLocationAsync(r);
            }

            if (r.Has("tagging"))
            {
                return GetBucketTaggingAsync(r);
            }

            if (r.Has("notification"))
            {
                return GetBucketNotificationAsync(r);
            }

            if (r.Has("policy"))
            {
                return GetBucketPolicyAsync(r);
            }

            if (r.Has("uploads"))
            {
                return ListMultipartUploadsAsync(r);
            }

            if (r.Has("versioning"))
            {
                return GetBucketVersioningAsync(r);
            }

            if (r.Has("versions"))
            {
                return ListObjectVersionsAsync(r);
            }

            if (r.Has("acl"))
            {
                return GetAclAsync(r);
            }

            foreach (var (subresource, status, code, message) in UnconfiguredBucketSettings)
            {
                if (r.Has(subresource))
                {
                    return UnconfiguredAsync(r, status, code, message);
                }
            }

            RejectUnsupported(r);
            return r.QueryValue("list-type") switch
            {
                null => ListObjectsAsync(r, v2: false),
                "2" => ListObjectsAsync(r, v2: true),
                var other => throw S3Errors.InvalidArgument("Invalid List Type specified", "list-type", other),
            };
        }

        if (HttpMethods.IsHead(method))
        {
            return HeadBucketAsync(r);
        }

        if (HttpMethods.IsPut(method))
        {
            if (r.Has("tagging"))
            {
                return PutBucketTaggingAsync(r);
            }

            if (r.Has("notification"))
            {
                return PutBucketNotificationAsync(r);
            }

            if (r.Has("policy"))
            {
                return PutBucketPolicyAsync(r);
            }

            RejectUnsupported(r);
            if (r.Has("versioning"))
            {
                throw S3Errors.NotImplemented();
            }

            return CreateBucketAsync(r);
        }

        if (HttpMethods.IsDelete(method))
        {
            if (r.Has("tagging"))
            {
                return DeleteBucketTaggingAsync(r);
            }

            if (r.Has("policy"))
            {
                return DeleteBucketPolicyAsync(r);
            }

            if (UnconfiguredBucketSettings.Any(s => r.Has(s.Subresource)))
            {
                return DeleteUnconfiguredAsync(r);
            }

            RejectUnsupported(r);
            return DeleteBucketAsync(r);
        }

        if (HttpMethods.IsPost(method))
        {
            if (r.Has("delete"))
            {
                return DeleteObjectsAsync(r);
            }

            RejectUnsupported(r);
            if ((r.Request.ContentType ?? "").StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            {
                return PostObjectAsync(r);
            }

            throw S3Errors.MethodNotAllowed(method, "BUCKET");
        }

        throw S3Errors.MethodNotAllowed(method, "BUCKET");
    }

    private Task DispatchObject(S3Request r, string method)
    {
        if (r.QueryValue("versionId") is { } versionId && versionId != "null")
        {
            // Buckets are unversioned: the only version of an object is "null".
            throw S3Errors.InvalidArgument("Invalid version id specified", "versionId", versionId);
        }

        if (HttpMethods.IsGet(method))
        {
            if (r.Has("tagging"))
            {
                return GetObjectTaggingAsync(r);
            }

            if (r.Has("uploadId"))
            {
                return ListPartsAsync(r);
            }

            if (r.Has("attributes"))
            {
                return GetObjectAttributesAsync(r);
            }

            if (r.Has("acl"))
            {
                return GetAclAsync(r);
            }

            RejectUnsupported(r);
            return GetObjectAsync(r, head: false);
        }

        if (HttpMethods.IsHead(method))
        {
            return GetObjectAsync(r, head: true);
        }

        if (HttpMethods.IsPut(method))
        {
            if (r.Has("tagging"))
            {
                return PutObjectTaggingAsync(r);
            }

            if (r.Has("partNumber") || r.Has("uploadId"))
            {
                return r.Header("x-amz-copy-source") is not null ? UploadPartCopyAsync(r) : UploadPartAsync(r);
            }

            RejectUnsupported(r);
            return r.Header("x-amz-copy-source") is not null ? CopyObjectAsync(r) : PutObjectAsync(r);
        }

        if (HttpMethods.IsDelete(method))
        {
            if (r.Has("tagging"))
            {
                return DeleteObjectTaggingAsync(r);
            }

            if (r.Has("uploadId"))
            {
                return AbortMultipartUploadAsync(r);
            }

            RejectUnsupported(r);
            return DeleteObjectAsync(r);
        }

        if (HttpMethods.IsPost(method))
        {
            if (r.Has("uploads"))
            {
                return CreateMultipartUploadAsync(r);
            }

            if (r.Has("uploadId"))
            {
                return CompleteMultipartUploadAsync(r);
            }

            RejectUnsupported(r);
        }

        throw S3Errors.MethodNotAllowed(method, "OBJECT");
    }

    private static void RejectUnsupported(S3Request r)
    {
        foreach (var name in UnsupportedSubresources)
        {
            if (r.Has(name))
            {
                throw S3Errors.NotImplemented();
            }
        }
    }
}
