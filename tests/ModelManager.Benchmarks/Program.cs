return await ModelManager.Benchmarks.BenchmarkApp.RunAsync(args);
