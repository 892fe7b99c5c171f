/* SPDX-License-Identifier: MIT */
/* The lease-taking frame of the manual lab commands (manual.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manual.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"

static void on_taken(struct pl_leases *l, const char *board, int status,
		     void *ud)
{
	struct pl_manual *m = ud;

	(void)l;
	(void)board;
	m->leased = true;
	m->lease_status = status;
	/* Let uv_run(UV_RUN_ONCE) return now instead of polling on. */
	uv_stop(&m->loop);
}

static void on_lost(struct pl_leases *l, const char *board, int status,
		    const char *holder, void *ud)
{
	struct pl_manual *m = ud;

	(void)l;
	m->lost = true;
	fprintf(stderr, "patchlab %s: lost the lease of board %s (%s%s%s): "
		"stopping\n", m->cmd->name, board, pl_strerror(status),
		holder ? ", now held by " : "", holder ? holder : "");
	uv_stop(&m->loop);
}

static void on_signal(uv_signal_t *h, int signo)
{
	struct pl_manual *m = h->data;

	m->signo = signo;
	uv_stop(&m->loop);
}

static void print_boards(const struct pl_lab *lab)
{
	fprintf(stderr, "boards:");
	for (size_t i = 0; i < lab->nboards; i++)
		fprintf(stderr, " %s", lab->boards[i].id);
	fprintf(stderr, "\n");
}

/* A leased board: name the holder and when its lease ends. */
static void say_leased(struct pl_manual *m, const char *board, bool waiting)
{
	char *holder = NULL;
	uint64_t exp = 0, now = pl_store_now(m->st);

	if (pl_leases_holder(m->leases, board, &holder, &exp) == 0 && !exp)
		fprintf(stderr, "patchlab %s: board %s is driven by %s, until "
			"that process lets go of it or ends%s\n",
			m->cmd->name, board, holder,
			waiting ? "; waiting for it" : "");
	else if (holder)
		fprintf(stderr, "patchlab %s: board %s is leased by %s "
			"(expires in %.1f s unless renewed)%s\n",
			m->cmd->name, board, holder,
			exp > now ? (double)(exp - now) / 1e9 : 0.0,
			waiting ? "; waiting for it" : "");
	else
		fprintf(stderr, "patchlab %s: board %s is leased by another "
			"controller%s\n", m->cmd->name, board,
			waiting ? "; waiting for it" : "");
	free(holder);
}

int pl_manual_begin(struct pl_manual *m, const struct pl_cli_args *a,
		    const char *board_id)
{
	const char *lab_path = pl_cli_opt(a, "lab");
	const char *db = pl_cli_opt(a, "db");
	bool wait = !pl_cli_flag(a, "no-wait");
	char *holder = NULL;
	int err;

	memset(m, 0, sizeof(*m));
	m->cmd = a->cmd;
	if (!lab_path)
		lab_path = "lab.yaml";
	if (pl_diags_new(&m->diags))
		return PL_EXIT_LAB_ERROR;
	err = pl_lab_load(&m->lab, lab_path, NULL, m->diags);
	if (err) {
		pl_diags_print(m->diags, stderr);
		if (err != -PL_ECONFIG)
			fprintf(stderr, "patchlab %s: %s: %s\n", a->cmd->name,
				lab_path, pl_strerror(err));
		return PL_EXIT_CONFIG;
	}
	m->board = pl_lab_board(m->lab, board_id);
	if (!m->board) {
		fprintf(stderr, "patchlab %s: no board '%s' in %s; ",
			a->cmd->name, board_id, lab_path);
		print_boards(m->lab);
		return PL_EXIT_USAGE;
	}
	if (uv_loop_init(&m->loop))
		return PL_EXIT_LAB_ERROR;
	m->loop_ok = true;
	for (int i = 0; i < 2; i++) {
		uv_signal_init(&m->loop, &m->sig[i]);
		m->sig[i].data = m;
		uv_signal_start(&m->sig[i], on_signal, i ? SIGTERM : SIGINT);
	}
	m->sig_init = true;
	m->log = (struct pl_log){ .ctx = m->board->id, .max = PL_LOG_WARN };
	m->fctx = (struct pl_fixture_ctx){ .loop = &m->loop, .log = m->log,
					   .board_id = m->board->id };

	err = pl_store_open(&m->st, db, &(struct pl_store_opts){
				    .log = &m->log });
	if (err) {
		fprintf(stderr, "patchlab %s: result store %s: %s\n",
			a->cmd->name, db ? db : PL_STORE_DEFAULT_PATH,
			pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	err = pl_leases_open(&m->leases, &m->loop, m->st, PL_MANUAL_LEASE_MS);
	if (err)
		return PL_EXIT_LAB_ERROR;
	/* bind the board itself, whatever store other processes use */
	err = pl_leases_set_lab(m->leases, m->lab->file);
	if (err) {
		fprintf(stderr, "patchlab %s: board lock for %s: %s\n",
			a->cmd->name, m->lab->file, pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	pl_leases_set_log(m->leases, &m->log);
	pl_leases_set_lost_cb(m->leases, on_lost, m);
	err = pl_leases_take(m->leases, m->board->id, wait, on_taken, m);
	if (err == -PL_ELEASED) {
		say_leased(m, m->board->id, false);
		return PL_EXIT_LAB_ERROR;
	}
	if (err) {
		fprintf(stderr, "patchlab %s: lease of board %s: %s\n",
			a->cmd->name, m->board->id, pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	if (pl_leases_holder(m->leases, m->board->id, &holder, NULL) == 0 &&
	    strcmp(holder, pl_store_holder(m->st)) != 0)
		say_leased(m, m->board->id, true);
	free(holder);
	while (!m->leased && !m->signo && uv_run(&m->loop, UV_RUN_ONCE))
		;
	if (m->signo)
		return 128 + m->signo;
	if (!m->leased || m->lease_status) {
		fprintf(stderr, "patchlab %s: lease of board %s: %s\n",
			a->cmd->name, m->board->id,
			pl_strerror(m->leased ? m->lease_status : -EIO));
		return PL_EXIT_LAB_ERROR;
	}
	return 0;
}

const struct pl_fixture_cfg *pl_manual_fixture(struct pl_manual *m,
					       enum pl_fixture_class cls)
{
	const struct pl_fixture_cfg *f = m->board->fixture[cls];

	if (!f)
		fprintf(stderr, "patchlab %s: board %s has no %s fixture in "
			"%s\n", m->cmd->name, m->board->id,
			pl_fixture_class_name(cls), m->lab->file);
	return f;
}

int pl_manual_run(struct pl_manual *m, const bool *done)
{
	while (!*done && !m->lost && !m->signo)
		if (!uv_run(&m->loop, UV_RUN_ONCE) && !*done)
			break; /* nothing left that could finish it */
	if (m->lost)
		return PL_EXIT_LAB_ERROR;
	return m->signo ? 128 + m->signo : 0;
}

int pl_manual_end(struct pl_manual *m, int rc)
{
	if (m->lost && rc == 0)
		rc = PL_EXIT_LAB_ERROR;
	pl_leases_close(m->leases);
	m->leases = NULL;
	for (int i = 0; m->sig_init && i < 2; i++)
		uv_close((uv_handle_t *)&m->sig[i], NULL);
	if (m->loop_ok) {
		uv_run(&m->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&m->loop))
			fprintf(stderr, "patchlab %s: handles left open at exit\n",
				m->cmd->name);
	}
	pl_store_close(m->st);
	pl_lab_free(m->lab);
	pl_diags_free(m->diags);
	memset(m, 0, sizeof(*m));
	return rc;
}
