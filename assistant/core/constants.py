"""Special tokens, their fixed ids, and other shared constants.

Every SentencePiece model this project trains reserves the first four ids for these
pieces, so a model bundle and its tokenizer always agree on them.
"""

PAD_ID = 0  # padding: masked out of attention and of the loss
UNK_ID = 1  # unknown piece (never produced for text: byte_fallback covers every input)
BOS_ID = 2  # start of a target sequence: the decoder's first input
EOS_ID = 3  # end of a target sequence: the decoder's last label

PAD_PIECE = "<pad>"
UNK_PIECE = "<unk>"
BOS_PIECE = "<s>"
EOS_PIECE = "</s>"

NUM_SPECIAL_IDS = 4

# File names inside a model bundle directory.
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.model"
WEIGHTS_FILE = "model.weights.h5"
TRAINING_LOG_FILE = "training_log.json"

# Between a conversation's context and the new turn in a model's source ("CV07:E217 T=85
# <CTX> how do I fix it?"). Training makes it one SentencePiece piece (a user-defined symbol,
# added when the training texts hold it), and a tokenizer with that piece marks a bundle that
# reads context. Upper case, so a `source_case="upper"` model sees it unchanged.
CONTEXT_SEPARATOR = "<CTX>"
