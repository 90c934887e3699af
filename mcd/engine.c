/*
 * engine.c - the table of built-in storage engines, and loading one from a
 * shared object (-o engine=/path/x.so).
 */
#include "engine.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

extern const struct engine slab_engine;
extern const struct engine heap_engine;

static const struct engine *const builtin[] = { &slab_engine, &heap_engine, NULL };

const struct engine *engine;

const struct engine *engine_find(const char *name)
{
    for (int i = 0; builtin[i]; i++) {
        if (strcmp(builtin[i]->name, name) == 0)
            return builtin[i];
    }
    return NULL;
}

/* The object stays loaded for the life of the process: its table and code
 * are in use until exit, so the handle is never closed. */
static const struct engine *load_shared(const char *path, enum err_site *err,
                                        char *why, size_t whylen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        *err = ERR_ENGINE_DLOPEN;
        snprintf(why, whylen, "%s", dlerror());
        return NULL;
    }
    engine_entry_fn entry;
    /* POSIX blesses this cast for dlsym's result. */
    *(void **)&entry = dlsym(h, MCD_ENGINE_ENTRY);
    if (!entry) {
        *err = ERR_ENGINE_NO_ENTRY;
        snprintf(why, whylen, "%s does not export %s()", path, MCD_ENGINE_ENTRY);
        dlclose(h);
        return NULL;
    }
    const struct engine *e = entry(MCD_ENGINE_ABI);
    if (!e || e->abi_version != MCD_ENGINE_ABI) {
        *err = ERR_ENGINE_ABI;
        if (e)
            snprintf(why, whylen, "%s was built for engine ABI %d, this mcd speaks ABI %d",
                     path, e->abi_version, MCD_ENGINE_ABI);
        else
            snprintf(why, whylen, "%s refused engine ABI %d", path, MCD_ENGINE_ABI);
        dlclose(h);
        return NULL;
    }
    return e;
}

const struct engine *engine_load(const char *spec, enum err_site *err,
                                 char *why, size_t whylen)
{
    const struct engine *e;
    if (strchr(spec, '/')) {
        e = load_shared(spec, err, why, whylen);
    } else {
        e = engine_find(spec);
        if (!e) {
            *err = ERR_ENGINE_UNKNOWN;
            snprintf(why, whylen, "'%s' (built in: slab, heap; or a path to a .so)", spec);
        }
    }
    if (!e)
        err_raise(*err, 0);
    return e;
}
