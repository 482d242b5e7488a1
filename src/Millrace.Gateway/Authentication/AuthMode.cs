namespace Millrace.Gateway.Authentication;

/// <summary>How the front door treats signatures.</summary>
public enum AuthMode
{
    /// <summary>Any credentials: signatures are parsed but not checked (the default on loopback).</summary>
    None,

    /// <summary>Every request must carry a valid SigV4 signature from a known, active key.</summary>
    SigV4,
}
