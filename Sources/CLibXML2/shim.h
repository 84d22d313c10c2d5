#ifndef SLUICE_CLIBXML2_SHIM_H
#define SLUICE_CLIBXML2_SHIM_H
// Debian's libxml2 headers pull in ICU, whose UErrorCode clashes with Foundation's: turn it off first.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

// xmlFree is a global function pointer variable, which Swift 6 refuses to use directly.
static inline void sluice_xml_free(void *pointer) { xmlFree(pointer); }
#endif
