using System.CommandLine;
using System.Text.Json.Nodes;

namespace ModelManager.Cli;

/// <summary><c>modelmanager inspect PATH</c>: what a GGUF file or ONNX folder says about its model, or the typed error for a bad one.</summary>
internal static class InspectCommand
{
    public static Command Create(CliOptions common)
    {
        var path = new Argument<string>("path") { Description = "A .gguf file or an ONNX model folder" };
        var type = CliOptions.TypeOption();
        var command = new Command("inspect", "Show what a GGUF file or ONNX folder says about its model: architecture, shape, vocabulary, templates, tensor types")
        {
            path, type, common.Json,
        };
        command.SetAction((result, cancellationToken) => common.RunAsync(result, async (output, models) =>
        {
            var model = models.Describe(result.GetValue(path)!, result.GetValue(type), null, null);
            var inspection = models.InspectorFor(model).Inspect(model);
            await Task.CompletedTask.ConfigureAwait(false);
            Write(output, model, inspection);
            return 0;
        }));
        return command;
    }

    private static void Write(CliOutput output, ModelDescriptor model, ModelInspection inspection)
    {
        if (output.Json)
        {
            var facts = new JsonObject();
            foreach (var (key, value) in inspection.Facts)
            {
                facts[key] = value;
            }

            output.WriteJson(new JsonObject
            {
                ["path"] = model.Path,
                ["type"] = model.Type,
                ["format"] = inspection.Format,
                ["facts"] = facts,
                ["weights"] = new JsonArray([.. inspection.TensorTypes.Select(w => (JsonNode)new JsonObject { ["name"] = w.Name, ["count"] = w.Count, ["bytes"] = w.Bytes })]),
            });
            return;
        }

        output.Line($"{model.Path} ({inspection.Format}, type {model.Type})");
        var table = output.Table("fact", "value");
        foreach (var (key, value) in inspection.Facts)
        {
            CliOutput.Row(table, key, value);
        }

        output.Write(table);
        var weights = CliOutput.RightAlign(output.Table("weights", "count", "bytes", "MB"), 1, 2, 3);
        foreach (var w in inspection.TensorTypes)
        {
            CliOutput.Row(weights, w.Name, CliOutput.Number(w.Count), CliOutput.Number(w.Bytes), CliOutput.Mb(w.Bytes));
        }

        output.Write(weights);
    }
}
