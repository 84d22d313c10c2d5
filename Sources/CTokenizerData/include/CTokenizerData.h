#ifndef SLUICE_CTOKENIZERDATA_H
#define SLUICE_CTOKENIZERDATA_H

#include <stddef.h>
#include <stdint.h>

/// The compact o200k_base vocabulary (see Scripts/generate-tokenizer-data.py for the format).
const uint8_t *sluice_o200k_base_data(size_t *length);

/// The compact cl100k_base vocabulary.
const uint8_t *sluice_cl100k_base_data(size_t *length);

/// The pre-tokenizer's Unicode scalar class table, pinned to one Unicode version.
const uint8_t *sluice_scalar_classes_data(size_t *length);

#endif
