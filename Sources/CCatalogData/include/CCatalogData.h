#ifndef SLUICE_CCATALOGDATA_H
#define SLUICE_CCATALOGDATA_H

#include <stddef.h>
#include <stdint.h>

/// The model catalog (models.yaml), embedded in the binary.
const uint8_t *sluice_model_catalog(size_t *length);

#endif
