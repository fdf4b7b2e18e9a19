#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>

static inline void swiftvirt_xml_free(void *p) { xmlFree(p); }
