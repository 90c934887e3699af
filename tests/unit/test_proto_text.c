/*
 * test_proto_text.c - the text protocol's tokenizer (mcd/proto_text.c).
 * Whole commands are covered by the integration tests and fuzz_text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto_text.h"

#define S(lit) lit, sizeof(lit) - 1

static void assert_tok(const struct token *t, const char *want)
{
    assert_int_equal(t->len, strlen(want));
    assert_memory_equal(t->p, want, t->len);
}

static void test_simple(void **state)
{
    struct token t[MAX_TOKENS];
    const char line[] = "set foo 0 0 3";
    (void)state;
    assert_int_equal(text_tokenize(S(line), t, MAX_TOKENS), 5);
    assert_tok(&t[0], "set");
    assert_tok(&t[1], "foo");
    assert_tok(&t[4], "3");
    /* tokens point into the line: no copy */
    assert_ptr_equal(t[0].p, line);
    assert_ptr_equal(t[1].p, line + 4);
}

static void test_spaces(void **state)
{
    struct token t[MAX_TOKENS];
    (void)state;
    assert_int_equal(text_tokenize(S(""), t, MAX_TOKENS), 0);
    assert_int_equal(text_tokenize(S("     "), t, MAX_TOKENS), 0);
    assert_int_equal(text_tokenize(S("  get   a  b   "), t, MAX_TOKENS), 3);
    assert_tok(&t[0], "get");
    assert_tok(&t[1], "a");
    assert_tok(&t[2], "b");
    /* only spaces separate: tabs and \r are part of a token */
    assert_int_equal(text_tokenize(S("a\tb c\r"), t, MAX_TOKENS), 2);
    assert_tok(&t[0], "a\tb");
    assert_tok(&t[1], "c\r");
    /* the length bounds the line, not a NUL */
    assert_int_equal(text_tokenize("abc def", 5, t, MAX_TOKENS), 2);
    assert_tok(&t[1], "d");
    assert_int_equal(text_tokenize(S("a\0b c"), t, MAX_TOKENS), 2);
    assert_int_equal(t[0].len, 3);
}

static void test_many_tokens(void **state)
{
    struct token t[MAX_TOKENS + 1];
    char line[512];
    (void)state;
    /* exactly MAX_TOKENS fits */
    size_t n = 0;
    for (int i = 0; i < MAX_TOKENS; i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "t%d ", i);
    assert_int_equal(text_tokenize(line, n, t, MAX_TOKENS), MAX_TOKENS);
    assert_tok(&t[MAX_TOKENS - 1], "t23");
    /* one more returns max + 1 and writes nothing past t[max - 1] */
    n += (size_t)snprintf(line + n, sizeof(line) - n, "extra");
    t[MAX_TOKENS].p = NULL;
    assert_int_equal(text_tokenize(line, n, t, MAX_TOKENS), MAX_TOKENS + 1);
    assert_null(t[MAX_TOKENS].p);
    /* far more still returns max + 1 */
    for (int i = 0; i < 50; i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, " x");
    assert_int_equal(text_tokenize(line, n, t, MAX_TOKENS), MAX_TOKENS + 1);
    /* a small max */
    assert_int_equal(text_tokenize(S("a b c"), t, 2), 3);
    assert_int_equal(text_tokenize(S("a b"), t, 2), 2);
    /* trailing spaces after the max-th token do not count as a token */
    assert_int_equal(text_tokenize(S("a b   "), t, 2), 2);
}

static void test_tok_is(void **state)
{
    struct token t[4];
    (void)state;
    assert_int_equal(text_tokenize(S("get gets"), t, 4), 2);
    assert_true(TOK_IS(&t[0], "get"));
    assert_false(TOK_IS(&t[0], "gets"));
    assert_true(TOK_IS(&t[1], "gets"));
    assert_false(TOK_IS(&t[1], "get"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_spaces),
        cmocka_unit_test(test_many_tokens),
        cmocka_unit_test(test_tok_is),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
