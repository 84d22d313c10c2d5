// Embeds the generated tokenizer data into the binary, so that nothing is read from disk at run time.
// The files are produced once by Scripts/generate-tokenizer-data.py and committed.
#include "CTokenizerData.h"

// #embed is standard C23; SwiftPM compiles C targets in an older mode, where clang accepts it as an extension.
#pragma clang diagnostic ignored "-Wc23-extensions"

static const uint8_t o200k_base[] __attribute__((aligned(16))) = {
#embed "data/o200k_base.bin"
};

static const uint8_t cl100k_base[] __attribute__((aligned(16))) = {
#embed "data/cl100k_base.bin"
};

static const uint8_t scalar_classes[] __attribute__((aligned(16))) = {
#embed "data/scalar_classes.bin"
};

const uint8_t *sluice_o200k_base_data(size_t *length) {
    *length = sizeof(o200k_base);
    return o200k_base;
}

const uint8_t *sluice_cl100k_base_data(size_t *length) {
    *length = sizeof(cl100k_base);
    return cl100k_base;
}

const uint8_t *sluice_scalar_classes_data(size_t *length) {
    *length = sizeof(scalar_classes);
    return scalar_classes;
}
