using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Millrace.Bench.Micro -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
