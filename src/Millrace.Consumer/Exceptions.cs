namespace Millrace.Consumer;

/// <summary>The lease behind a checkpointer is no longer held by this worker (taken, stolen, or shut down); the
/// checkpoint was not written. The KCL's name.</summary>
public sealed class ShutdownException(string message) : Exception(message);

/// <summary>Checkpointing is not possible in this state (e.g. from LeaseLost). The KCL's name.</summary>
public sealed class InvalidStateException(string message) : Exception(message);
