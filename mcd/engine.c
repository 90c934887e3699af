/*
 * engine.c - the table of built-in storage engines.
 */
#include "engine.h"

#include <string.h>

extern const struct engine slab_engine;

static const struct engine *const builtin[] = { &slab_engine, NULL };

const struct engine *engine;

const struct engine *engine_find(const char *name)
{
    for (int i = 0; builtin[i]; i++) {
        if (strcmp(builtin[i]->name, name) == 0)
            return builtin[i];
    }
    return NULL;
}
