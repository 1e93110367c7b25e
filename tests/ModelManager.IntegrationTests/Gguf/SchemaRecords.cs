namespace ModelManager.IntegrationTests;

/// <summary>Record types whose JSON schemas (as <c>AIJsonUtilities.CreateJsonSchema</c> writes them) the structured-output tests generate.</summary>
public static class SchemaRecords
{
    public enum Species { Cat, Dog, Bird }

    public sealed record Pet(string Name, int Age, bool Vaccinated, Species Species);

    public sealed record Shelter(string City, List<Species> Kinds, int? Capacity, Pet? Star);

    public sealed record TreeNode(string Label, List<TreeNode>? Children);

    public sealed record Reading(double Value, DateOnly Day, TimeOnly At, DateTimeOffset Taken, Guid Id, bool? Valid);

    public sealed record Point(double X, double Y);

    public sealed record Route(string Name, Point[] Points, decimal Length);

    public sealed record Switches(bool Light, bool? Fan, bool Door, bool? Window);

    public sealed record Scores(Dictionary<string, int> ByName, long Total);

    public sealed record Letter(string To, string From, string Body, DateOnly? Sent);
}
