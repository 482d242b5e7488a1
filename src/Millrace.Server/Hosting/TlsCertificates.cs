using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Millrace.Server.Hosting;

/// <summary>The TLS endpoint's certificate: the operator's (PEM cert + key, or a PFX without password), or a
/// self-signed one created at first start and kept in the data directory so clients can pin it.</summary>
public static class TlsCertificates
{
    public static string SelfSignedPath(MillraceServerOptions options) => Path.Combine(options.DataDirectory, "server", "tls.pfx");

    public static X509Certificate2 Load(MillraceServerOptions options)
    {
        if (options.TlsCertificatePath is { } certPath)
        {
            return options.TlsKeyPath is { } keyPath
                ? X509Certificate2.CreateFromPemFile(certPath, keyPath)
                : X509CertificateLoader.LoadPkcs12FromFile(certPath, password: null);
        }

        var path = SelfSignedPath(options);
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var created = CreateSelfSigned(options.Host);
            var temp = path + ".tmp";
            File.WriteAllBytes(temp, created.Export(X509ContentType.Pfx));
            File.Move(temp, path, overwrite: true);
        }

        return X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
    }

    private static X509Certificate2 CreateSelfSigned(string host)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Millrace", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        if (IPAddress.TryParse(host, out var address) && !IPAddress.IsLoopback(address))
        {
            names.AddIpAddress(address);
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // serverAuth
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-1), now.AddYears(10));
    }
}
