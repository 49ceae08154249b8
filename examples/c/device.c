/*
 * device.c: a person's device from C, over libtacitdevice (device/cabi).
 *
 * Opens a device in the directory argv[1], records a few events, grants
 * consent to one kind, asks for recommendations (a new device has no model
 * yet, so that fails, saying so), prints the summary and the privacy
 * ledger, forgets, and closes. It exits 0 only if every step behaved as
 * expected, and prints each failure.
 *
 * Build and run it with `make c-example`, or by hand:
 *   go build -buildmode=c-shared -o out/c/libtacitdevice.so ./device/cabi
 *   gcc -Wall -Wextra -I out/c -o out/c/device examples/c/device.c -L out/c -ltacitdevice
 *   LD_LIBRARY_PATH=out/c out/c/device "$(mktemp -d)/device"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libtacitdevice.h"

static int passes, failures;

/* check reports a step: ok says whether it behaved as expected. */
static void check(int ok, const char *step, const char *err) {
	if (ok) {
		passes++;
		printf("ok    %s\n", step);
		return;
	}
	failures++;
	printf("FAIL  %s%s%s\n", step, err ? ": " : "", err ? err : "");
}

/* contains says whether s holds want; NULL holds nothing. */
static int contains(const char *s, const char *want) {
	return s != NULL && strstr(s, want) != NULL;
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n  opens a device in DIR (made if need be)\n", argv[0]);
		return 2;
	}
	char *err = NULL;
	int64_t now = (int64_t)time(NULL) * 1000;

	/* NULL catalogue: the embedded MovieLens one, whose items are movie ids. */
	int64_t dev = tacit_device_open(argv[1], NULL, &err);
	check(dev > 0, "open", err);
	tacit_free(err);
	if (dev <= 0) {
		printf("device.c: %d passed, %d failed\n", passes, failures);
		return 1;
	}

	/* Three views of films an hour apart, and a purchase of an item the
	 * catalogue lacks: kept, but of no use to the model. */
	const char *films[] = {"1", "260", "318"};
	for (int i = 0; i < 3; i++) {
		int rc = tacit_device_record(dev, "view", films[i], now - (3 - i) * 3600 * 1000LL, 0, &err);
		check(rc == 0 && err == NULL, "record a view", err);
		tacit_free(err);
	}
	int rc = tacit_device_record(dev, "purchase", "sku-42", now - 60 * 1000, 2.5, &err);
	check(rc == 0 && err == NULL, "record a purchase", err);
	tacit_free(err);

	/* A bad kind is refused, with a message. */
	rc = tacit_device_record(dev, "Not A Kind", "1", now, 1, &err);
	check(rc == -1 && contains(err, "bad kind"), "a bad kind is refused", err ? err : "no error");
	if (rc == -1) {
		printf("      (%s)\n", err);
	}
	tacit_free(err);

	/* Nothing is used until the person consents. */
	rc = tacit_device_consent(dev, "view", 1, &err);
	check(rc == 0 && err == NULL, "consent to views", err);
	tacit_free(err);
	rc = tacit_device_consented(dev, "purchase", &err);
	check(rc == 0, "no consent to purchases", err);
	tacit_free(err);

	char *summary = tacit_device_summary(dev, &err);
	check(contains(summary, "\"events\":4") && contains(summary, "\"model_version\":-1"), "summary", err);
	printf("      %s\n", summary ? summary : "(null)");
	tacit_free(summary);
	tacit_free(err);

	/* A new device has no model: it gets one by taking part in a round
	 * (tacit_device_join), so recommend fails, and says why. */
	char *recs = tacit_device_recommend(dev, 10, 1, &err);
	check(recs == NULL && contains(err, "no model yet"), "recommend without a model fails", err ? err : recs);
	if (err != NULL) {
		printf("      (%s)\n", err);
	}
	tacit_free(recs);
	tacit_free(err);

	char *ledger = tacit_device_ledger(dev, &err);
	check(contains(ledger, "granted consent to use view events"), "the ledger holds the consent", err);
	printf("      %s\n", ledger ? ledger : "(null)");
	tacit_free(ledger);
	tacit_free(err);

	int64_t n = tacit_device_forget_kind(dev, "view", &err);
	check(n == 3, "forget views: 3 deleted", err);
	tacit_free(err);
	n = tacit_device_forget_all(dev, &err);
	check(n == 1, "forget all: 1 left, deleted", err);
	tacit_free(err);

	ledger = tacit_device_ledger(dev, &err);
	check(contains(ledger, "deleted every view event (3)") && contains(ledger, "deleted all events (1)"),
	      "the ledger holds both deletions", err);
	printf("      %s\n", ledger ? ledger : "(null)");
	tacit_free(ledger);
	tacit_free(err);

	rc = tacit_device_close(dev, &err);
	check(rc == 0, "close", err);
	tacit_free(err);

	/* A closed (or never opened) handle is an error, not a crash. */
	rc = tacit_device_record(dev, "view", "1", now, 1, &err);
	check(rc == -1 && contains(err, "no open device"), "a closed handle is refused", err ? err : "no error");
	tacit_free(err);
	char *s = tacit_device_summary(12345, &err);
	check(s == NULL && contains(err, "no open device"), "an unknown handle is refused", err ? err : s);
	tacit_free(s);
	tacit_free(err);

	printf("device.c: %d passed, %d failed\n", passes, failures);
	return failures > 0 ? 1 : 0;
}
