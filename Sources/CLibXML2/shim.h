#include <libxml/xmlversion.h>
/* libxml2 is built with ICU, and its encoding.h then includes ICU's headers, whose definitions clash with
   the ICU copy inside Foundation when a module imports both. SwiftVirt uses no ICU-backed libxml2 API. */
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>

static inline void swiftvirt_xml_free(void *p) { xmlFree(p); }
