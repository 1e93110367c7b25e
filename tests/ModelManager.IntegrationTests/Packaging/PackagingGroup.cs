namespace ModelManager.IntegrationTests.Packaging;

/// <summary>The packaging tests share one set of packed packages and run one after the other.</summary>
[CollectionDefinition(Name)]
public sealed class PackagingGroup : ICollectionFixture<PackedPackages>
{
    public const string Name = "Packaging";
}
