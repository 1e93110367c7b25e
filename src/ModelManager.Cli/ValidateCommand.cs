using System.CommandLine;
using System.Text.Json.Nodes;

namespace ModelManager.Cli;

/// <summary><c>modelmanager validate CONFIG</c>: every error and warning the manager would report at start-up, each with its JSON path; exit code 1 on errors.</summary>
internal static class ValidateCommand
{
    public static Command Create(CliOptions common)
    {
        var config = new Argument<string>("config") { Description = "The config.json to check" };
        var command = new Command("validate", "Check a config.json as the manager does at start-up (models' files, settings, agents, whether the preloaded models fit); exit code 1 on errors")
        {
            config, common.Json,
        };
        command.SetAction((result, cancellationToken) => common.RunAsync(result, (output, models) =>
        {
            var options = LocalModels.ReadConfig(result.GetValue(config)!);
            IReadOnlyList<string> errors, warnings;
            int modelCount = 0;
            try
            {
                var validated = models.Validate(options);
                (errors, warnings, modelCount) = ([], validated.Warnings, validated.Models.Count);
            }
            catch (ModelConfigurationException e)
            {
                (errors, warnings) = (e.Errors, e.Warnings);
            }

            Write(output, options.Source ?? result.GetValue(config)!, errors, warnings, modelCount);
            return Task.FromResult(errors.Count > 0 ? CliOptions.Failed : 0);
        }));
        return command;
    }

    private static void Write(CliOutput output, string source, IReadOnlyList<string> errors, IReadOnlyList<string> warnings, int modelCount)
    {
        if (output.Json)
        {
            output.WriteJson(new JsonObject
            {
                ["source"] = source,
                ["valid"] = errors.Count == 0,
                ["errors"] = Problems(errors),
                ["warnings"] = Problems(warnings),
            });
            return;
        }

        if (errors.Count + warnings.Count > 0)
        {
            var table = output.Table("", "path", "problem");
            foreach (var (list, label) in new[] { (errors, "error"), (warnings, "warning") })
            {
                foreach (var problem in list)
                {
                    var (path, message) = Split(problem);
                    CliOutput.Row(table, label, path, message);
                }
            }

            output.Write(table);
        }

        output.Line(errors.Count == 0
            ? $"{source}: valid ({modelCount} model{(modelCount == 1 ? "" : "s")}, {warnings.Count} warning{(warnings.Count == 1 ? "" : "s")})"
            : $"{source}: {errors.Count} error{(errors.Count == 1 ? "" : "s")}, {warnings.Count} warning{(warnings.Count == 1 ? "" : "s")}");
    }

    private static JsonArray Problems(IReadOnlyList<string> problems) =>
        [.. problems.Select(p =>
        {
            var (path, message) = Split(p);
            return (JsonNode)new JsonObject { ["path"] = path, ["message"] = message, ["text"] = p };
        })];

    /// <summary>The library writes each problem as <c>json.path: message</c>; a problem about the file itself starts with its path instead.</summary>
    private static (string Path, string Message) Split(string problem)
    {
        var colon = problem.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 ? (problem[..colon], problem[(colon + 2)..]) : ("", problem);
    }
}
