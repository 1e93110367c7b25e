namespace ModelManager;

// Generation threads: long-lived, at most one per parallel slot, started on first use and ended when the model is released.
internal sealed partial class OnnxGenAIModel
{
    /// <summary>Runs each generation on one of the model's own threads, which stay for the next generation.</summary>
    /// <remarks>
    /// Thread-safe. A new thread per generation cost ~11% of tiny-random-gpt2's tokens/s (the benchmark's onnx-new-thread
    /// row): ONNX Runtime's per-thread state and the allocator's per-thread arena start cold on a fresh thread. The slots
    /// semaphore bounds the generations in flight, so at most <c>parallel</c> threads ever start. Background threads: they
    /// never keep the process alive, and they end once <see cref="Complete"/> is called and their work is done.
    /// </remarks>
    private sealed class GenerationThreads(string modelName, int maxThreads)
    {
        private readonly Queue<Action> _work = new();
        private int _threads;
        private int _waiting;
        private bool _completed;

        /// <summary>Generation threads alive now.</summary>
        public int Count
        {
            get
            {
                lock (_work)
                {
                    return _threads;
                }
            }
        }

        /// <summary>Runs <paramref name="work"/> on an idle generation thread, a new one if none is idle and fewer than the maximum run, else on the first to finish.</summary>
        /// <remarks><paramref name="work"/> must not throw: nothing observes it.</remarks>
        public void Run(Action work)
        {
            lock (_work)
            {
                ObjectDisposedException.ThrowIf(_completed, this);
                _work.Enqueue(work);
                if (_waiting > 0)
                {
                    _waiting--; // counted off here, so a second Run before the woken thread runs wakes (or starts) another
                    Monitor.Pulse(_work);
                }
                else if (_threads < maxThreads)
                {
                    _threads++;
                    new Thread(Loop) { IsBackground = true, Name = $"ModelManager onnx {modelName}" }.Start();
                }
            }
        }

        /// <summary>Ends every thread once the work queued so far is done; the model's native objects are gone.</summary>
        public void Complete()
        {
            lock (_work)
            {
                _completed = true;
                Monitor.PulseAll(_work);
            }
        }

        private void Loop()
        {
            while (true)
            {
                Action work;
                lock (_work)
                {
                    while (_work.Count == 0)
                    {
                        if (_completed)
                        {
                            _threads--;
                            return;
                        }

                        _waiting++;
                        Monitor.Wait(_work);
                    }

                    work = _work.Dequeue();
                }

                work();
            }
        }
    }
}
