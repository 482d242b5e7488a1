using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Millrace.Testing;

/// <summary>POSIX signals to a child process (.NET's Process.Kill only sends SIGKILL).</summary>
public static class Signals
{
    /// <summary>SIGTERM: asks the process to shut down gracefully.</summary>
    public static void Terminate(Process process) => _ = Kill(process.Id, 15);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
