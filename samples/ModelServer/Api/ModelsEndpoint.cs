using System.Text.Json.Nodes;
using ModelManager;

namespace ModelServer.Api;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c>: every configured model, loaded or not.</summary>
internal static class ModelsEndpoint
{
    private static readonly long Started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static IResult List(IModelManager manager)
    {
        var data = new JsonArray();
        foreach (var model in manager.GetModels())
        {
            data.Add(Model(model));
        }

        return Json.Ok(new JsonObject { ["object"] = "list", ["data"] = data });
    }

    public static IResult Get(string id, IModelManager manager) =>
        manager.GetModels().FirstOrDefault(m => m.Name == id) is { } model
            ? Json.Ok(Model(model))
            : ApiError.Result(StatusCodes.Status404NotFound, $"The model '{id}' does not exist or you do not have access to it.", "model", "model_not_found");

    private static JsonObject Model(ModelDescriptor model) => new()
    {
        ["id"] = model.Name,
        ["object"] = "model",
        ["created"] = Started,
        ["owned_by"] = "modelmanager",
    };

}
