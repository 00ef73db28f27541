"""The one source of truth for names, label values, file-name bases and defaults.

Every other module imports its keys from here; no bare key strings elsewhere.
"""

# Raw record fields (what the readers produce and validation checks).
ID_KEY = 'id'
SOURCE_KEY = 'source'
REVIEW_KEY = 'review'
LABEL_KEY = 'label'
RATING_KEY = 'rating'
RAW_KEY = 'raw'
REASON_KEY = 'reason'
DETAIL_KEY = 'detail'
PARSE_ERROR_KEY = 'parse_error'
# Grouping files for the split (preprocess --groups): id,group or the shared row,movie layout.
GROUP_KEY = 'group'
ROW_KEY = 'row'
MOVIE_KEY = 'movie'

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
REASON_INFERENCE_FAILED = 'inference_failed'   # scoring only: the model raised on the batch
REASONS = (REASON_EMPTY, REASON_MISSING_LABEL, REASON_UNKNOWN_LABEL,
           REASON_UNDECODABLE, REASON_MALFORMED, REASON_TOO_LONG, REASON_INFERENCE_FAILED)

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
UNLABELED_PREFIX = 'unlabeled'  # reviews without labels, transformed for word vectors
UNLABELED_ID = -1               # their label in the transformed examples
TFRECORD_SUFFIX = '.tfrecord.gz'
REJECTED_DIR = 'rejected'
REJECTED_PREFIX = 'rejected'
VOCAB_FILE = 'vocab.txt'
# The eval split's raw reviews, as Kaggle-layout CSV with an id column, for scoring.
EVAL_REVIEWS_DIR = 'eval_reviews'
CSV_COLUMNS = (ID_KEY, REVIEW_KEY, 'sentiment')
MANIFEST_FILE = 'manifest.json'
STATS_DIR = '_stats'

# Output layout of the score job.
PREDICTIONS_DIR = 'predictions'
PREDICTIONS_PREFIX = 'predictions'
METRICS_FILE = 'metrics.json'
REPORT_FILE = 'report.html'
PROBABILITY_KEY = 'probability'
PREDICTED_KEY = 'predicted'

# Defaults of the preprocess job.
DEFAULT_MAX_TOKENS = 400
DEFAULT_VOCAB_TOP_K = 30000
DEFAULT_FREQUENCY_THRESHOLD = 2
DEFAULT_NUM_OOV_BUCKETS = 1
DEFAULT_NGRAM_MAX = 3            # 0: no n-gram features
DEFAULT_NGRAM_VOCAB_TOP_K = 500000
DEFAULT_NGRAM_FREQUENCY_THRESHOLD = 2
DEFAULT_EVAL_FRACTION = 0.2
DEFAULT_MAX_REVIEW_CHARS = 50000
DEFAULT_MAX_REJECT_FRACTION = 0.01
TRUNCATE_KEEP_START = 'start'
TRUNCATE_KEEP_END = 'end'
