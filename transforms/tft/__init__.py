"""What runs inside the tf.Transform graph, and so inside the exported model: text cleaning
as TF string ops, the ``preprocessing_fn``, and the n-gram counting analyzer."""
