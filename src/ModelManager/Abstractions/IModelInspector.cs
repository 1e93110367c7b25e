namespace ModelManager;

/// <summary>
/// A backend that can describe and size a model from its files alone, without loading it: what
/// <c>modelmanager inspect</c> and <c>modelmanager estimate</c> print.
/// </summary>
/// <remarks>
/// Implemented by the gguf and ONNX backends next to <see cref="IModelBackend"/>. Both methods read only headers and
/// small metadata files through the same guarded readers the load uses, so a bad file gets the load's typed error.
/// </remarks>
public interface IModelInspector
{
    /// <summary>The pre-load estimate with its parts; its <see cref="MemoryEstimate.TotalBytes"/> is what <see cref="IModelBackend.EstimateBytesAsync"/> returns.</summary>
    /// <exception cref="ModelFormatException">The model's files are malformed.</exception>
    MemoryEstimate Estimate(ModelDescriptor model);

    /// <summary>What the model's files say: format, architecture, shape, vocabulary, templates, tensor types.</summary>
    /// <exception cref="ModelFormatException">The model's files are malformed.</exception>
    ModelInspection Inspect(ModelDescriptor model);
}

/// <summary>A pre-load memory estimate broken into the parts it adds up.</summary>
/// <param name="Parts">The terms, largest contributors first where the backend knows them.</param>
public sealed record MemoryEstimate(IReadOnlyList<MemoryEstimatePart> Parts)
{
    /// <summary>The sum of the parts, saturating at <see cref="long.MaxValue"/> (metadata can describe absurd shapes).</summary>
    public long TotalBytes
    {
        get
        {
            long total = 0;
            foreach (var part in Parts)
            {
                total = part.Bytes >= long.MaxValue - total ? long.MaxValue : total + part.Bytes;
            }

            return total;
        }
    }
}

/// <summary>One term of a <see cref="MemoryEstimate"/>.</summary>
/// <param name="Name">What the bytes are for, e.g. <c>weights (F32)</c> or <c>kv cache</c>.</param>
/// <param name="Bytes">The bytes, never negative.</param>
/// <param name="Detail">How the term was worked out, e.g. <c>2048 cells × 5 layers × 4 kv heads × 16 × f16</c>; null when obvious.</param>
public sealed record MemoryEstimatePart(string Name, long Bytes, string? Detail = null);

/// <summary>What a model's files say about it, as <c>modelmanager inspect</c> shows it.</summary>
/// <param name="Format">The file format and version, e.g. <c>GGUF v3</c> or <c>ONNX Runtime GenAI folder</c>.</param>
/// <param name="Facts">Named facts in display order, keys in snake_case (<c>architecture</c>, <c>block_count</c>, <c>chat_template</c>, ...).</param>
/// <param name="TensorTypes">The weights by element type (GGUF), or by file (ONNX), largest first.</param>
public sealed record ModelInspection(string Format, IReadOnlyList<KeyValuePair<string, string>> Facts, IReadOnlyList<WeightGroup> TensorTypes);

/// <summary>Weights of one element type (or one file) in a <see cref="ModelInspection"/>.</summary>
/// <param name="Name">The element type (<c>F32</c>, <c>Q4_K</c>) or file name.</param>
/// <param name="Count">How many tensors (or 1 for a file).</param>
/// <param name="Bytes">Their bytes.</param>
public sealed record WeightGroup(string Name, int Count, long Bytes);
