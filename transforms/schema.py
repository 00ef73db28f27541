"""The data contract: record fields, label values, rejection reasons, the features the
TFRecords hold, the names of what one job writes and another reads, and the defaults the
transform depends on.

Every other module imports these names from here; no bare key strings elsewhere. The data's
columns (their names, types, roles and CSV header names) are declared in
``transforms.features``; the keys of the four that stages name one by one are imported here.
Names that only one job uses live with that job (the run folder's layout in
``pipeline.jobs.run``, the explore profile's parts in ``analysis.explore_stats``).
"""

from transforms.features import ID_KEY, LABEL_KEY, RATING_KEY, REVIEW_KEY  # noqa: F401

# Record fields besides the data's columns (what the readers add and validation checks).
SOURCE_KEY = 'source'
RAW_KEY = 'raw'
RAW_BASE64_KEY = 'raw_base64'   # the exact bytes of a record that is not valid UTF-8
REASON_KEY = 'reason'
DETAIL_KEY = 'detail'
PARSE_ERROR_KEY = 'parse_error'

# Label values as they appear in the Kaggle CSV layout, and their integer codes.
NEGATIVE = 'negative'
POSITIVE = 'positive'
LABEL_VALUES = (NEGATIVE, POSITIVE)
LABEL_TO_INT = {NEGATIVE: 0, POSITIVE: 1}
# Spellings accepted besides the canonical ones (after trimming and lowercasing).
LABEL_ALIASES = {'pos': POSITIVE, 'neg': NEGATIVE, '1': POSITIVE, '0': NEGATIVE}

# aclImdb layout: label folders under a split folder.
ACLIMDB_LABEL_DIRS = {'pos': POSITIVE, 'neg': NEGATIVE}
ACLIMDB_UNLABELED_DIR = 'unsup'

# Rejection reasons (the dead-letter vocabulary).
REASON_EMPTY = 'empty_review'
REASON_MISSING_LABEL = 'missing_label'
REASON_UNKNOWN_LABEL = 'unknown_label'
REASON_UNDECODABLE = 'undecodable_utf8'
REASON_MALFORMED = 'malformed_csv'
REASON_TOO_LONG = 'review_too_long'
REASON_DUPLICATE_ID = 'duplicate_id'          # an id column gave the same id twice in a file
REASON_INFERENCE_FAILED = 'inference_failed'   # scoring only: the model raised on the batch
REASONS = (REASON_EMPTY, REASON_MISSING_LABEL, REASON_UNKNOWN_LABEL,
           REASON_UNDECODABLE, REASON_MALFORMED, REASON_TOO_LONG, REASON_DUPLICATE_ID,
           REASON_INFERENCE_FAILED)

# Transformed features (what the TFRecords hold and the trainer reads).
TOKEN_IDS_KEY = 'token_ids'
NUM_TOKENS_KEY = 'num_tokens'
NUM_OOV_KEY = 'num_oov'
# Binary bag of n-grams: the distinct in-vocabulary 1..n-grams of a review, as ids
# 1..V of the n-gram vocabulary (variable length; 0 pads a batch).
NGRAM_IDS_KEY = 'ngram_ids'
# The vocabularies' names inside transform_fn/assets.
VOCAB_NAME = 'vocab'
NGRAM_VOCAB_NAME = 'ngram_vocab'
NGRAM_SEPARATOR = ' '
PADDING_ID = 0

# Output layout of the preprocess job.
TRAIN_PREFIX = 'train'
EVAL_PREFIX = 'eval'
# The test split: held out from training, early stopping and the fusion; raw reviews only.
TEST_PREFIX = 'test'
UNLABELED = 'unlabeled'         # the name of reviews without a label, wherever one is needed
UNLABELED_PREFIX = UNLABELED    # reviews without labels, transformed for word vectors
UNLABELED_ID = -1               # their label in the transformed examples
TFRECORD_SUFFIX = '.tfrecord.gz'
REJECTED_DIR = 'rejected'
REJECTED_PREFIX = 'rejected'
VOCAB_FILE = 'vocab.txt'
# The eval split's raw reviews, as CSV of features.CSV_HEADER (with ids), for scoring.
EVAL_REVIEWS_DIR = 'eval_reviews'
TEST_REVIEWS_DIR = 'test_reviews'   # the test split's raw reviews, the same layout
MANIFEST_FILE = 'manifest.json'
# In preprocess's manifest: {relative path: bytes} of what train reads, checked before work.
OUTPUT_FILES_KEY = 'output_files'
STATS_DIR = '_stats'

# Output of the model gate (evaluate), read by the run index and the registry.
VERDICT_FILE = 'verdict.json'

# Output layout of the score job.
PREDICTIONS_DIR = 'predictions'
PREDICTIONS_PREFIX = 'predictions'
METRICS_FILE = 'metrics.json'
REPORT_FILE = 'report.html'
PROBABILITY_KEY = 'probability'
PREDICTED_KEY = 'predicted'

# The exported model (written by train, read by score and predict).
SAVED_MODEL_FILE = 'saved_model.pb'
VARIABLES_DIR = 'variables'
# In train's manifest: {relative path: {bytes, sha256}} of the files serving reads.
EXPORT_FILES_KEY = 'export_files'
MODEL_PLOTS_DIR = 'plots'        # the trainer's learning curves, inside the model folder
SERVING_SIGNATURE = 'serving_default'     # raw review strings -> probability, label
EXAMPLES_SIGNATURE = 'serving_examples'   # serialized tf.Example with a review feature
REVIEWS_INPUT = 'reviews'
EXAMPLES_INPUT = 'examples'
PROBABILITY_OUTPUT = PROBABILITY_KEY
LABEL_OUTPUT = LABEL_KEY
NUM_TOKENS_OUTPUT = NUM_TOKENS_KEY        # tokens in the whole review (before truncation)
NUM_OOV_OUTPUT = NUM_OOV_KEY              # of which outside the vocabulary


def label_name(label) -> str:
    """A record's label (positive, negative or None) -> its name in statistics."""
    return label if label in LABEL_VALUES else UNLABELED


def rejected_count_key(reason: str) -> str:
    """The name under which a job counts the records rejected for ``reason``."""
    return f'rejected:{reason}'


# Defaults of the preprocess job.
DEFAULT_MAX_TOKENS = 400
DEFAULT_VOCAB_TOP_K = 30000
DEFAULT_FREQUENCY_THRESHOLD = 2
DEFAULT_NUM_OOV_BUCKETS = 1
DEFAULT_NGRAM_MAX = 3            # 0: no n-gram features
DEFAULT_NGRAM_VOCAB_TOP_K = 500000
DEFAULT_NGRAM_FREQUENCY_THRESHOLD = 2
DEFAULT_EVAL_FRACTION = 0.2
DEFAULT_TEST_FRACTION = 0.0        # preprocess alone: no test split unless asked
DEFAULT_MAX_REVIEW_CHARS = 50000
DEFAULT_MAX_REJECT_FRACTION = 0.01
TRUNCATE_KEEP_START = 'start'
TRUNCATE_KEEP_END = 'end'
