/* SPDX-License-Identifier: MIT */
/*
 * patchlab serve: the lab's web console on the result store (docs/serve.md).
 * Prints the URL it listens on as the first line of stdout, then serves
 * until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/fixture.h"
#include "patchlab/serve.h"
#include "patchlab/store.h"

static const struct pl_cli_opt serve_options[] = {
	{ "db", 0, "FILE", "result store (default runs/patchlab.db)", false },
	{ "lab", 'l', "LAB", "lab inventory whose boards '/' lists "
	  "(default: the boards the store knows a lease of)", false },
	{ "listen", 0, "HOST:PORT", "address to listen on (default "
	  "127.0.0.1:8080; port 0: a free one)", false },
	{ "token-file", 0, "FILE", "token that the write actions need "
	  "(default: no write action)", false },
	{ "nice", 0, "N|idle", "scheduling niceness (default 10: controllers "
	  "on this host come first; idle: only CPU nothing else wants)",
	  false },
	{ 0 },
};

/* --nice N|idle (default 10); 0, or -1 for a bad value (printed). "idle"
 * is SCHED_IDLE: the server runs only on CPU no other task of the host
 * wants (it may crawl on a saturated host). A setting the system refuses
 * (a lower niceness than ours, unprivileged) is warned of. */
static int set_nice(const struct pl_cli_args *a)
{
	const char *v = pl_cli_opt(a, "nice");
	long n = 10;

	if (v && strcmp(v, "idle") == 0) {
		struct sched_param sp = { .sched_priority = 0 };

		if (sched_setscheduler(0, SCHED_IDLE, &sp) != 0)
			fprintf(stderr, "patchlab serve: cannot take the idle "
				"scheduling class: %s\n", strerror(errno));
		return 0;
	}
	if (v && (pl_parse_long(v, &n) || n < -20 || n > 19)) {
		pl_cli_usage_error(a->cmd, "--nice takes -20 to 19 or idle, "
				   "not '%s'", v);
		return -1;
	}
	if (setpriority(PRIO_PROCESS, 0, (int)n) != 0)
		fprintf(stderr, "patchlab serve: cannot set niceness %ld: %s\n",
			n, strerror(errno));
	return 0;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" -> host (NULL: loopback) and port. */
static int split_listen(const char *v, char **host, char **port)
{
	const char *colon = strrchr(v, ':');
	size_t hl;

	*host = *port = NULL;
	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") !=
	    strlen(colon + 1) || strlen(colon + 1) > 5 ||
	    atoi(colon + 1) > 65535)
		return -EINVAL;
	hl = (size_t)(colon - v);
	if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
		v++;
		hl -= 2;
	} else if (memchr(v, ':', hl)) {
		return -EINVAL; /* a bare IPv6 address needs brackets */
	}
	if (hl)
		*host = strndup(v, hl);
	*port = strdup(colon + 1);
	if ((hl && !*host) || !*port) {
		free(*host);
		free(*port);
		return -ENOMEM;
	}
	return 0;
}

/* The first line of the file, without trailing white space; NULL if
 * unreadable or empty (errno set). */
static char *read_token(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen(path, "re");

	if (!f)
		return NULL;
	n = getline(&line, &cap, f);
	fclose(f);
	while (n > 0 && strchr(" \t\r\n", line[n - 1]))
		line[--n] = '\0';
	if (n <= 0) {
		free(line);
		errno = EINVAL;
		return NULL;
	}
	return line;
}

static int run_serve(const struct pl_cli_args *a)
{
	const char *db = pl_cli_opt(a, "db"), *lab_path = pl_cli_opt(a, "lab");
	const char *listen = pl_cli_opt(a, "listen");
	const char *token_file = pl_cli_opt(a, "token-file");
	struct pl_serve_opts o = { 0 };
	struct pl_diags *diags = NULL;
	struct pl_serve *srv = NULL;
	struct pl_lab *lab = NULL;
	char *host = NULL, *port = NULL, *token = NULL;
	sigset_t set;
	int rc = PL_EXIT_OK, err, sig;

	if (split_listen(listen ? listen : "127.0.0.1:8080", &host, &port))
		return pl_cli_usage_error(a->cmd, "--listen takes HOST:PORT, "
					  "not '%s'", listen);
	if (token_file && !(token = read_token(token_file))) {
		fprintf(stderr, "patchlab serve: token file %s: %s\n",
			token_file, errno == EINVAL ? "empty" : strerror(errno));
		rc = PL_EXIT_CONFIG;
		goto out;
	}
	if (lab_path) {
		if (pl_diags_new(&diags)) {
			rc = PL_EXIT_LAB_ERROR;
			goto out;
		}
		err = pl_lab_load(&lab, lab_path, NULL, diags);
		if (err) {
			pl_diags_print(diags, stderr);
			if (err != -PL_ECONFIG)
				fprintf(stderr, "patchlab serve: %s: %s\n",
					lab_path, pl_strerror(err));
			rc = PL_EXIT_CONFIG;
			goto out;
		}
	}
	/* A lab host runs controllers whose trigger paths count in
	 * microseconds: the web view yields the CPU to them. Set before any
	 * thread starts (threads inherit it). */
	if (set_nice(a) != 0) {
		rc = PL_EXIT_USAGE;
		goto out;
	}
	/* Threads inherit the mask: only this thread takes the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	o.db = db ? db : PL_STORE_DEFAULT_PATH;
	o.lab = lab;
	o.host = host;
	o.port = port;
	o.token = token;
	err = pl_serve_start(&srv, &o);
	if (err) {
		fprintf(stderr, "patchlab serve: cannot serve %s on %s:%s: %s\n",
			o.db, host ? host : "127.0.0.1", port, pl_strerror(err));
		rc = PL_EXIT_LAB_ERROR;
		goto out;
	}
	printf("%s\n", pl_serve_url(srv));
	fflush(stdout);
	fprintf(stderr, "patchlab serve: %s on %s (%s); Ctrl-C stops\n", o.db,
		pl_serve_url(srv), token ? "write actions need the token" :
		"read-only");
	while (sigwait(&set, &sig) != 0)
		;
	pl_serve_stop(srv);
out:
	if (token)
		OPENSSL_cleanse(token, strlen(token));
	free(token);
	free(host);
	free(port);
	pl_lab_free(lab);
	pl_diags_free(diags);
	return rc;
}

const struct pl_cli_cmd pl_cmd_serve = {
	.name = "serve",
	.run = run_serve,
	.help = "serve the lab's web console (boards, suites, runs, live)",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_SERVICE,
	.options = serve_options,
	.details = "Pages at /, /suites/ID, /runs/ID, /boards/ID, /queue; "
		   "JSON under /api/;\nlive changes as server-sent events at "
		   "/events (docs/serve.md). Listens on\nloopback unless "
		   "--listen says otherwise; read-only unless --token-file "
		   "is\ngiven. The first line of stdout is the URL.\n"
		   "Exit codes: 0 stopped by a signal, 2 cannot listen or "
		   "read the store,\n64 usage, 65 bad lab or token file.",
};
