/*
 * model_format.h - the lstm_model binary layout and its checked views.
 *
 * Pure C11, no PostgreSQL. A model is an nn.LSTM (num_layers stacked layers,
 * hidden size H, input size I) followed by an nn.Linear head to O outputs,
 * exactly as PyTorch lays them out: gates in order i, f, g, o, and the two
 * bias vectors bias_ih and bias_hh kept apart.
 *
 * Serialized form (what follows PostgreSQL's 4-byte varlena length word):
 *
 *   LstmModelHeader            36 bytes, native endianness
 *   float data[]               all weights, contiguous, in this order:
 *     for member j in 0..M-1 (M = members; an ensemble's weight sets):
 *       for layer k in 0..L-1:
 *         weight_ih_lk   (4H, in_k)   in_0 = I, in_k = H for k > 0
 *         weight_hh_lk   (4H, H)
 *         bias_ih_lk     (4H)
 *         bias_hh_lk     (4H)
 *       head_weight      (O, H)
 *       head_bias        (O)
 *     input_mean       (I)            shared by the members
 *     input_std        (I)            every entry > 0
 *     output_mean      (O)
 *     output_std       (O)            every entry > 0
 *     calibration      (O, Q)         only with LSTM_FLAG_CALIBRATED: per output step the
 *                                     error quantiles at the Q = LSTM_CALIBRATION_QUANTILES
 *                                     probabilities of calibration.h, nondecreasing along Q
 *
 * Version 1 (every model before 0.2): one member, no season, flags at most
 * DIFFERENCE; members, season and reserved are zero. Version 2 adds
 * members, season and the series-scaling flags. A model is written as
 * version 1 whenever it fits it, so older models keep their exact bytes.
 *
 * Every reader must call lstm_model_validate() on untrusted bytes before
 * lstm_model_view(); the view assumes a validated model.
 */
#ifndef LSTM_CORE_MODEL_FORMAT_H
#define LSTM_CORE_MODEL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define LSTM_MODEL_MAGIC 0x4D54534CU /* "LSTM" read as little-endian bytes */
#define LSTM_MODEL_VERSION 2         /* the newest version; 1 is still read and written */
#define LSTM_MODEL_VERSION_1 1

/* Limits on the sizes a model may have. */
#define LSTM_MAX_INPUT 1024
#define LSTM_MAX_OUTPUT 1024
#define LSTM_MAX_HIDDEN 4096
#define LSTM_MAX_LAYERS 16
/* Largest serialized model in bytes (PostgreSQL's varlena limit is 1 GB). */
#define LSTM_MAX_MODEL_BYTES ((size_t)1000 * 1000 * 1000)

/*
 * Flags.
 * LSTM_FLAG_DIFFERENCE: the network sees and predicts first differences of
 * the target (input feature 0 and output 0). The runner keeps the last raw
 * target value, feeds x_t - x_{t-1}, and adds the last value back to the
 * forecast. The first row of a series only records the value.
 */
#define LSTM_FLAG_DIFFERENCE 0x0001U
/*
 * LSTM_FLAG_SERIES_SCALING (version 2): every series is normalised by its own
 * streaming statistics (normalizer.h); the network's inputs are the
 * normaliser's features (input_size = lstm_normalizer_input_size(season,
 * output_size)) and its output_size outputs a direct forecast of the next
 * output_size rows of the one raw value a row brings.
 * LSTM_FLAG_LOG (with SERIES_SCALING): the normaliser works on log(value).
 */
#define LSTM_FLAG_SERIES_SCALING 0x0002U
#define LSTM_FLAG_LOG 0x0004U
/*
 * LSTM_FLAG_CALIBRATED (version 2, header only, with SERIES_SCALING): the
 * model ends with the calibration array of its prediction intervals
 * (calibration.h). It lives in the serialized header's flags only: in
 * LstmDims it is the field calibrated, so dims.flags (which states copy) are
 * those of the network and normaliser.
 */
#define LSTM_FLAG_CALIBRATED 0x0008U
/* Probabilities of the calibration grid (calibration.h). */
#define LSTM_CALIBRATION_QUANTILES 25
#define LSTM_KNOWN_FLAGS_V1 (LSTM_FLAG_DIFFERENCE)
#define LSTM_KNOWN_FLAGS (LSTM_FLAG_DIFFERENCE | LSTM_FLAG_SERIES_SCALING | LSTM_FLAG_LOG)
/* Most ensemble members one model may hold, and the longest season. */
#define LSTM_MAX_MEMBERS 16
#define LSTM_MAX_SEASON 1000

/* The fixed header of a serialized model. */
typedef struct LstmModelHeader {
    uint32_t magic;      /* LSTM_MODEL_MAGIC */
    uint16_t version;    /* LSTM_MODEL_VERSION */
    uint16_t flags;      /* LSTM_FLAG_* */
    int32_t input_size;  /* I, 1..LSTM_MAX_INPUT */
    int32_t hidden_size; /* H, 1..LSTM_MAX_HIDDEN */
    int32_t num_layers;  /* L, 1..LSTM_MAX_LAYERS */
    int32_t output_size; /* O, 1..LSTM_MAX_OUTPUT */
    uint32_t members;    /* version 2: M, 1..LSTM_MAX_MEMBERS; version 1: 0 (one member) */
    uint32_t season;     /* version 2: 0 or 2..LSTM_MAX_SEASON; version 1: 0 */
    uint32_t reserved;   /* must be zero */
} LstmModelHeader;

/* Sizes of a model, as plain ints (already checked against the limits). */
typedef struct LstmDims {
    int input_size;  /* I */
    int hidden_size; /* H */
    int num_layers;  /* L */
    int output_size; /* O */
    unsigned flags;  /* LSTM_FLAG_* */
    int members;     /* ensemble members (weight sets), 1..LSTM_MAX_MEMBERS; 1 in version 1 */
    int season;      /* season length of the normaliser's seasonal inputs, 0 for none */
    int calibrated;  /* 1: the model holds a calibration array (LSTM_FLAG_CALIBRATED) */
} LstmDims;

/* Pointers into one validated model's float block. */
typedef struct LstmLayerWeights {
    const float *weight_ih; /* (4H, in) */
    const float *weight_hh; /* (4H, H) */
    const float *bias_ih;   /* (4H) */
    const float *bias_hh;   /* (4H) */
    int in_size;            /* in: I for layer 0, H above */
} LstmLayerWeights;

/* One ensemble member's weights. */
typedef struct LstmMemberWeights {
    LstmLayerWeights layer[LSTM_MAX_LAYERS];
    const float *head_weight; /* (O, H) */
    const float *head_bias;   /* (O) */
} LstmMemberWeights;

/*
 * Pointers to every array of one validated model (see lstm_model_view);
 * layer, head_weight and head_bias are member 0's.
 */
typedef struct LstmModelView {
    LstmDims dims;
    LstmLayerWeights layer[LSTM_MAX_LAYERS];
    const float *head_weight;                   /* (O, H) */
    const float *head_bias;                     /* (O) */
    LstmMemberWeights member[LSTM_MAX_MEMBERS]; /* (members) */
    const float *input_mean;                    /* (I) */
    const float *input_std;                     /* (I) */
    const float *output_mean;                   /* (O) */
    const float *output_std;                    /* (O) */
    const float *calibration;                   /* (O, Q) or NULL when not calibrated */
} LstmModelView;

/* What went wrong in a check; the glue maps each to a SQLSTATE. */
typedef enum LstmError {
    LSTM_OK = 0,
    LSTM_ERR_LIMIT,     /* a size outside the limits (too large or < 1) */
    LSTM_ERR_FORMAT,    /* bad magic, version, flags, reserved field, length */
    LSTM_ERR_NONFINITE, /* a weight or scale is NaN or infinite */
    LSTM_ERR_SCALE,     /* a standard deviation <= 0 */
    LSTM_ERR_DOMAIN     /* a value outside the model's domain (log of a value <= 0) */
} LstmError;

#define LSTM_ERRMSG_LEN 256

/* lstm_dims_make: the sizes as an LstmDims (no checks). */
LstmDims lstm_dims_make(int input_size, int hidden_size, int num_layers, int output_size,
                        unsigned flags);

/*
 * lstm_dims_check: are these sizes within the limits? On failure writes a
 * message (lowercase, no period) to errmsg.
 */
LstmError lstm_dims_check(const LstmDims *dims, char *errmsg);

/* Number of floats in the data block for these (checked) sizes. */
size_t lstm_model_float_count(const LstmDims *dims);

/* Total serialized size in bytes (header + floats) for checked sizes. */
size_t lstm_model_nbytes(const LstmDims *dims);

/* Floats of one member's weights (its layers and head). */
size_t lstm_model_member_float_count(const LstmDims *dims);

/* Number of trainable parameters (every member's weights; not the scaling vectors). */
size_t lstm_model_parameter_count(const LstmDims *dims);

/*
 * lstm_model_validate: check nbytes of untrusted bytes starting at a
 * LstmModelHeader: header fields, sizes within limits, exact length, every
 * float finite, every std > 0. Returns LSTM_OK or an error with a message
 * that names the offending field (for example "weight_hh_l1[3][7]").
 */
LstmError lstm_model_validate(const void *bytes, size_t nbytes, char *errmsg);

/*
 * lstm_model_init_header: fill a header for checked sizes: version 1 when the
 * model fits it (one member, no season, no flag but DIFFERENCE), else 2.
 */
void lstm_model_init_header(LstmModelHeader *header, const LstmDims *dims);

/*
 * lstm_header_check_version: the magic number and format version that open
 * every serialized form of the core (a model here, a state in stream.h).
 * Returns LSTM_ERR_FORMAT with a message when either is not the expected one.
 */
LstmError lstm_header_check_version(uint32_t magic, uint32_t expected_magic, unsigned version,
                                    unsigned expected_version, char *errmsg);

/* lstm_model_dims: the sizes stored in a (validated) header. */
LstmDims lstm_model_dims(const LstmModelHeader *header);

/*
 * lstm_model_view: pointers to every array of a validated model whose
 * header starts at bytes. Also works on a model being built (writable data).
 */
void lstm_model_view(const void *bytes, LstmModelView *view);

/* Mutable pointer to the float block that follows the header. */
float *lstm_model_data(void *bytes);

/*
 * lstm_model_fingerprint: a 64-bit FNV-1a hash of the whole serialized
 * model (header and floats): equal models have equal fingerprints.
 */
uint64_t lstm_model_fingerprint(const void *bytes, size_t nbytes);

/*
 * Arrays of the data block in order: four per layer (weight_ih_lk,
 * weight_hh_lk, bias_ih_lk, bias_hh_lk), then head.weight, head.bias,
 * input_mean, input_std, output_mean, output_std, and calibration when
 * the model is calibrated.
 * lstm_model_array_count: how many arrays a model with these sizes has.
 */
int lstm_model_array_count(const LstmDims *dims);

/*
 * Description of one array of the data block: name, rows, cols, offset.
 * Arrays are numbered member by member (4 per layer, then head.weight and
 * head.bias), then the four scaling vectors and the calibration array
 * (is_scale: a top-level array shared by the members).
 */
typedef struct LstmArrayInfo {
    char name[32];        /* state_dict name, e.g. "weight_ih_l0", "head.bias" */
    int member;           /* the ensemble member it belongs to; 0 for the scaling vectors */
    int rows;             /* first dimension */
    int cols;             /* second dimension, 0 for a vector */
    size_t offset;        /* offset in floats from the start of the data block */
    int is_scale;         /* 1 for input_mean/std, output_mean/std */
    int must_be_positive; /* 1 for the two std vectors */
} LstmArrayInfo;

/* lstm_model_array_info: describe array number index (0-based). */
void lstm_model_array_info(const LstmDims *dims, int index, LstmArrayInfo *info);

/* Offsets in floats from the start of the data block of every array. */
typedef struct LstmModelOffsets {
    size_t weight_ih[LSTM_MAX_LAYERS]; /* (4H, in_k) */
    size_t weight_hh[LSTM_MAX_LAYERS]; /* (4H, H) */
    size_t bias_ih[LSTM_MAX_LAYERS];   /* (4H) */
    size_t bias_hh[LSTM_MAX_LAYERS];   /* (4H) */
    int in_size[LSTM_MAX_LAYERS];      /* in_k: I for layer 0, H above */
    size_t head_weight;                /* (O, H) */
    size_t head_bias;                  /* (O) */
    size_t input_mean;                 /* (I) */
    size_t input_std;                  /* (I) */
    size_t output_mean;                /* (O) */
    size_t output_std;                 /* (O) */
    size_t calibration;                /* (O, Q), when calibrated; 0 otherwise */
} LstmModelOffsets;

/*
 * lstm_model_offsets: where every array of member 0 and the scaling vectors
 * start, for checked sizes. The trainable parameters (everything before
 * input_mean) are a prefix of the block, so these offsets also address a
 * parameter block in model order.
 */
void lstm_model_offsets(const LstmDims *dims, LstmModelOffsets *offsets);

/* lstm_model_member_offsets: the same for member j (0..members-1). */
void lstm_model_member_offsets(const LstmDims *dims, int member, LstmModelOffsets *offsets);

#endif /* LSTM_CORE_MODEL_FORMAT_H */
