// ModelServer, as samples/ModelServer runs it, with the fake backend (type "fake") for scripted loads: a load that ignores
// cancellation stands in for one stuck in native code.
using ModelManager;
using ModelServer;

await using var app = ModelServerApp.Build(args, (_, models) => models.AddFakeBackend());
await app.RunAsync();
