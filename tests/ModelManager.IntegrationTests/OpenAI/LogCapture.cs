using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>An <see cref="ILoggerProvider"/> that records every line at every level, with its structured values, scopes and exception text.</summary>
internal sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyList<Entry> Entries => _entries.ToArray();

    /// <summary>Every recorded text (messages, values, scopes, exceptions), one entry per line.</summary>
    public IEnumerable<string> AllText => Entries.Select(e => e.ToString());

    public int Count(int eventId) => Entries.Count(e => e.EventId == eventId);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    internal sealed record Entry(string Category, LogLevel Level, int EventId, string Message, string Values, string Scopes, string? Exception)
    {
        public override string ToString() => $"{Level} {Category}[{EventId}] {Message} | {Values} | {Scopes} | {Exception}";
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        private readonly AsyncLocal<ImmutableStack?> _scopes = new();

        public IDisposable BeginScope<TState>(TState state)
            where TState : notnull
        {
            var previous = _scopes.Value;
            _scopes.Value = new ImmutableStack(Describe(state), previous);
            return new Scope(() => _scopes.Value = previous);
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = new List<string>();
            for (var s = _scopes.Value; s is not null; s = s.Next)
            {
                scopes.Add(s.Text);
            }

            owner._entries.Enqueue(new Entry(category, logLevel, eventId.Id, formatter(state, exception), Describe(state), string.Join(" / ", scopes), exception?.ToString()));
        }

        private static string Describe(object? state) => state is IEnumerable<KeyValuePair<string, object?>> pairs
            ? string.Join(", ", pairs.Select(p => $"{p.Key}={p.Value}"))
            : state?.ToString() ?? "";
    }

    private sealed record ImmutableStack(string Text, ImmutableStack? Next);

    private sealed class Scope(Action onDispose) : IDisposable
    {
        public void Dispose() => onDispose();
    }
}
