/*
 * binary.h - the binary (send/recv) form that lstm_model and lstm_state
 * share: a fixed header of network-order fields, then exactly the float4
 * values that the header's sizes need. A type describes its form once
 * (LstmBinaryForm: how to read and write its header fields, how many floats
 * its sizes need, how to validate the result) and both its recv and send
 * are one call.
 *
 * recv checks, before allocating anything, that the value holds a whole
 * header, that magic, version and sizes are right and that the rest is
 * exactly the floats and 8-byte tail values those sizes need (or, for a
 * form with a trailer, at least those, then the trailer); then it validates the assembled
 * value. Every failure is "invalid <type>: ..." with SQLSTATE 22P03
 * (54000 for a size out of range).
 */
#ifndef LSTM_TYPES_BINARY_H
#define LSTM_TYPES_BINARY_H

#include "lstm.h"

#include "lib/stringinfo.h"

/* What the checks need from a header read off the wire. */
typedef struct LstmBinaryHeader {
    uint32 magic;
    int version;
    LstmDims dims;
} LstmBinaryHeader;

/*
 * A type's binary form. The payload of a value (after the varlena header)
 * is its in-memory header of header_size bytes, then the floats, then
 * (lstm_state of a series-scaled model) a tail of 8-byte values, then
 * (a form with a trailer: lstm_state's anomaly block) the trailer.
 */
typedef struct LstmBinaryForm {
    const char *type_name;   /* "lstm_model" or "lstm_state" */
    int header_size;         /* bytes of the header, on the wire as in the payload */
    uint32 magic;            /* the header's magic number */
    int version;             /* the newest format version; this build reads 1..version */
    const char *floats_name; /* what the floats are, for messages: "weights" */
    /* Read the header fields from buf into header (zeroed, header_size bytes). */
    void (*read_header)(StringInfo buf, void *header, LstmBinaryHeader *fields);
    /* Append the fields of header (which may be unaligned); its sizes into *dims. */
    void (*write_header)(StringInfo buf, const void *header, LstmDims *dims);
    /* Floats after the header for these sizes. */
    size_t (*float_count)(const LstmDims *dims);
    /*
     * 8-byte values that follow the floats for these sizes (NULL: none), and
     * how to read them off the wire into tail (unaligned) and append them.
     */
    size_t (*tail_count)(const LstmDims *dims);
    void (*read_tail)(StringInfo buf, char *tail, const LstmDims *dims);
    void (*write_tail)(StringInfo buf, const char *tail, const LstmDims *dims);
    /* The core's check of a whole payload. */
    LstmError (*validate)(const void *payload, size_t nbytes, char *message);
    /*
     * Optional (NULL: the floats end the value): read what follows the floats
     * from buf (all of it, checking its size) and append its payload bytes to
     * trailer; header is the payload's header as read_header made it.
     */
    void (*read_trailer)(StringInfo buf, const void *header, StringInfo trailer);
    /* Optional: append the trailer of a payload, the trailer_size bytes after the floats. */
    void (*write_trailer)(StringInfo buf, const void *header, const void *trailer,
                          size_t trailer_size);
} LstmBinaryForm;

/* lstm_binary_recv: a new, validated value of form read from buf. */
struct varlena *lstm_binary_recv(const LstmBinaryForm *form, StringInfo buf);

/* lstm_binary_send: the binary form of the validated payload (nbytes) of a value of form. */
bytea *lstm_binary_send(const LstmBinaryForm *form, const void *payload, size_t nbytes);

#endif /* LSTM_TYPES_BINARY_H */
