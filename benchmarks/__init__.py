"""Measured speed, memory and accuracy of the jobs, each written as JSON under results/.

  python -m benchmarks                    # what there is, one line each
  python -m benchmarks NAME --help        # what NAME does, and its flags
  python -m benchmarks NAME [ARGS]        # run it

Each name is a module here with ``main(argv)``; the first line of its docstring is the
question it answers. What they share (paths, timing, peak memory, the result file) is
``benchmarks.common``. Not part of the product: setup.py does not ship this package.
"""

# In the order of benchmarks/README.md's tables.
BENCHMARKS = ('startup', 'preprocess_speed', 'score_speed', 'score_throughput', 'training',
              'scale', 'id_check', 'cluster_engines', 'object_store_requests', 'version_skew',
              'accuracy', 'accuracy_levers')
# Not measures: they make inputs, a model or a figure for the benchmarks above.
TOOLS = ('scale_data', 'reexport_model', 'plot_memory')
