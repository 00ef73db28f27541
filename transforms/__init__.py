"""The bottom layer: code that runs inside a pipeline or a TensorFlow graph, and the data
contract it shares with the launcher.

``schema`` (record fields, labels, reasons, output names, defaults), ``errors`` (what a user
can get wrong, with exit codes), ``manifest`` (JSON files and the manifest's common
fields); ``beam/`` the Beam stages (read, validate, split, sinks, inference...); ``tft/``
the tf.Transform graph (cleaning, preprocessing_fn, the n-gram counting analyzer).
Nothing here touches the process: no signals, no fd 2, no threads, no publishing.
"""
