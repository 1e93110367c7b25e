// ModelServer: the managed models behind the OpenAI wire format.
//   dotnet run --project samples/ModelServer -- --config PATH [--urls http://127.0.0.1:PORT]
using ModelManager;
using ModelServer;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(ModelServerApp.Usage);
    return 0;
}

try
{
    await using var app = ModelServerApp.Build(args);
    await app.RunAsync();
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
catch (ModelConfigurationException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
