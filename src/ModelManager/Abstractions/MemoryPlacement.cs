namespace ModelManager;

/// <summary>Where a loaded model's memory landed, for <see cref="ModelStats.HugePageBytes"/>; a backend's instance returns it from <c>GetService</c>.</summary>
/// <param name="HugePageBytes">Bytes of the model's weights the kernel backs with 2 MB pages (Linux transparent huge pages; the gguf backend's <c>huge_pages</c>).</param>
public sealed record MemoryPlacement(long HugePageBytes);
