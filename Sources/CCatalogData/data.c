// Embeds the model catalog (models.yaml, a dated data file edited by hand) into the binary, so the
// product needs no file beside it at run time.
#include "CCatalogData.h"

#pragma clang diagnostic ignored "-Wc23-extensions"

static const uint8_t catalog[] = {
#embed "data/models.yaml"
};

const uint8_t *sluice_model_catalog(size_t *length) {
    *length = sizeof(catalog);
    return catalog;
}
