/*
 * binary.c - the binary (send/recv) form shared by lstm_model and
 * lstm_state (binary.h): one recv with every check, one send.
 */
#include "types/binary.h"

#include "libpq/pqformat.h"
#include "miscadmin.h"

/* ERROR about a binary value of form (22P03, or as the core error says). */
static void binary_error(const LstmBinaryForm *form, LstmError err, const char *message)
    pg_attribute_noreturn();
static void binary_error(const LstmBinaryForm *form, LstmError err, const char *message)
{
    lstm_report_value_error(form->type_name, err, message, LSTM_FROM_BINARY);
}

/* ERROR unless the header's magic, version and sizes are the form's. */
static void binary_check_header(const LstmBinaryForm *form, const LstmBinaryHeader *fields)
{
    char message[LSTM_ERRMSG_LEN];
    LstmError err;

    if (fields->magic != form->magic)
        binary_error(form, LSTM_ERR_FORMAT, psprintf("bad magic number 0x%08x", fields->magic));
    if (fields->version < 1 || fields->version > form->version)
        binary_error(form, LSTM_ERR_FORMAT,
                     psprintf("unsupported format version %u (expected 1 to %d)",
                              (unsigned)fields->version, form->version));
    err = lstm_dims_check(&fields->dims, message);
    if (err != LSTM_OK)
        binary_error(form, err, message);
}

/* A new, validated value of form read from buf. */
struct varlena *lstm_binary_recv(const LstmBinaryForm *form, StringInfo buf)
{
    void *header = palloc0(form->header_size);
    LstmBinaryHeader fields;
    char message[LSTM_ERRMSG_LEN];
    LstmError err;
    size_t nfloats, ntail, nbytes;
    struct varlena *value;
    char *floats;

    if (buf->len - buf->cursor < form->header_size)
        binary_error(form, LSTM_ERR_FORMAT,
                     psprintf("binary value is %d bytes, shorter than the %d-byte header",
                              buf->len - buf->cursor, form->header_size));
    memset(&fields, 0, sizeof(fields));
    form->read_header(buf, header, &fields);
    binary_check_header(form, &fields);
    nfloats = form->float_count(&fields.dims);
    ntail = form->tail_count != NULL ? form->tail_count(&fields.dims) : 0;
    if (form->read_trailer != NULL
            ? (size_t)(buf->len - buf->cursor) < nfloats * sizeof(float) + ntail * 8
            : (size_t)(buf->len - buf->cursor) != nfloats * sizeof(float) + ntail * 8)
        binary_error(form, LSTM_ERR_FORMAT,
                     psprintf("binary value has %d bytes of %s but its sizes need %zu",
                              buf->len - buf->cursor, form->floats_name,
                              nfloats * sizeof(float) + ntail * 8));

    nbytes = form->header_size + nfloats * sizeof(float) + ntail * 8;
    value = (struct varlena *)palloc_extended(VARHDRSZ + nbytes, MCXT_ALLOC_HUGE);
    SET_VARSIZE(value, VARHDRSZ + nbytes);
    memcpy(VARDATA(value), header, form->header_size);
    floats = VARDATA(value) + form->header_size; /* may be unaligned */
    for (size_t i = 0; i < nfloats; i++) {
        float v;
        if ((i & 0xFFFF) == 0)
            CHECK_FOR_INTERRUPTS();
        v = pq_getmsgfloat4(buf);
        memcpy(floats + i * sizeof(float), &v, sizeof(float));
    }
    if (ntail > 0)
        form->read_tail(buf, floats + nfloats * sizeof(float), &fields.dims);
    if (form->read_trailer != NULL) {
        StringInfoData trailer;
        initStringInfo(&trailer);
        form->read_trailer(buf, header, &trailer);
        if (buf->cursor != buf->len)
            binary_error(
                form, LSTM_ERR_FORMAT,
                psprintf("binary value has %d bytes after its end", buf->len - buf->cursor));
        value = (struct varlena *)repalloc_huge(value, VARHDRSZ + nbytes + trailer.len);
        memcpy(VARDATA(value) + nbytes, trailer.data, trailer.len);
        nbytes += trailer.len;
        SET_VARSIZE(value, VARHDRSZ + nbytes);
        pfree(trailer.data);
    }
    pfree(header);

    err = form->validate(VARDATA(value), nbytes, message);
    if (err != LSTM_OK)
        binary_error(form, err, message);
    return value;
}

/* The binary form of a validated payload of form, nbytes long. */
bytea *lstm_binary_send(const LstmBinaryForm *form, const void *payload, size_t nbytes)
{
    const char *floats = (const char *)payload + form->header_size; /* may be unaligned */
    StringInfoData buf;
    LstmDims dims;
    size_t nfloats, ntail;

    pq_begintypsend(&buf);
    form->write_header(&buf, payload, &dims);
    nfloats = form->float_count(&dims);
    for (size_t i = 0; i < nfloats; i++) {
        float v;
        memcpy(&v, floats + i * sizeof(float), sizeof(float));
        pq_sendfloat4(&buf, v);
    }
    ntail = form->tail_count != NULL ? form->tail_count(&dims) : 0;
    if (ntail > 0)
        form->write_tail(&buf, floats + nfloats * sizeof(float), &dims);
    if (form->write_trailer != NULL)
        form->write_trailer(&buf, payload, floats + nfloats * sizeof(float) + ntail * 8,
                            nbytes - form->header_size - nfloats * sizeof(float) - ntail * 8);
    return pq_endtypsend(&buf);
}
