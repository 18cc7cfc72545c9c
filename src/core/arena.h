/*
 * arena.h - carving aligned arrays out of one caller-provided block.
 *
 * Pure C11, no PostgreSQL. The core never allocates: a structure that needs
 * many arrays (the inference runner, the trainer) writes its layout once, as
 * a function that takes every array from an LstmArena in turn. Run over a
 * sizing arena (no memory) that function only adds up the bytes, which is
 * what the *_nbytes functions report; run over the caller's block it hands
 * out the pointers, which is what the *_init functions do. The size and the
 * layout therefore come from the same code and cannot disagree.
 *
 * Every array starts on an LSTM_ARENA_ALIGN-byte boundary (a cache line,
 * enough for any vector load); the caller's block may have any alignment:
 * lstm_arena_nbytes includes the room to align its start.
 */
#ifndef LSTM_CORE_ARENA_H
#define LSTM_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* Alignment in bytes of every array carved. */
#define LSTM_ARENA_ALIGN 64

/* A bump allocator over one block, or a counter of bytes when base is NULL. */
typedef struct LstmArena {
    char *base;  /* the block's first aligned byte; NULL for a sizing arena */
    size_t used; /* bytes carved so far, every array rounded up to the alignment */
    int failed;  /* a size did not fit in size_t: the layout cannot be built */
} LstmArena;

/* An arena that only counts: carving returns NULL and adds up the bytes. */
static inline LstmArena lstm_arena_sizing(void)
{
    LstmArena arena = {NULL, 0, 0};
    return arena;
}

/*
 * An arena over memory, a block of lstm_arena_nbytes bytes of the same
 * layout's sizing arena (any alignment).
 */
static inline LstmArena lstm_arena_over(void *memory)
{
    uintptr_t start =
        ((uintptr_t)memory + LSTM_ARENA_ALIGN - 1) & ~(uintptr_t)(LSTM_ARENA_ALIGN - 1);
    LstmArena arena = {(char *)start, 0, 0};
    return arena;
}

/*
 * The next array of count elements of size bytes, aligned; NULL from a
 * sizing arena. A size that overflows sets failed (and returns NULL).
 */
static inline void *lstm_arena_carve(LstmArena *arena, size_t count, size_t size)
{
    size_t bytes, rounded;
    void *array;

    if (__builtin_mul_overflow(count, size, &bytes) || bytes > SIZE_MAX - (LSTM_ARENA_ALIGN - 1)) {
        arena->failed = 1;
        return NULL;
    }
    rounded = (bytes + LSTM_ARENA_ALIGN - 1) & ~(size_t)(LSTM_ARENA_ALIGN - 1);
    if (arena->used > SIZE_MAX - rounded) {
        arena->failed = 1;
        return NULL;
    }
    array = arena->base ? arena->base + arena->used : NULL;
    arena->used += rounded;
    return array;
}

/*
 * Bytes of the block a layout needs, from its sizing arena: what it carved
 * plus the room to align the block's start; 0 when a size overflowed.
 */
static inline size_t lstm_arena_nbytes(const LstmArena *arena)
{
    if (arena->failed || arena->used > SIZE_MAX - LSTM_ARENA_ALIGN)
        return 0;
    return arena->used + LSTM_ARENA_ALIGN;
}

/* a * b * c elements, saturating at SIZE_MAX (so that carving them fails). */
static inline size_t lstm_arena_count(size_t a, size_t b, size_t c)
{
    size_t ab, abc;
    if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &abc))
        return SIZE_MAX;
    return abc;
}

#endif /* LSTM_CORE_ARENA_H */
