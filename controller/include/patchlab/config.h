/* SPDX-License-Identifier: MIT */
/*
 * The configuration model: lab inventories (lab.yaml), board types
 * (boards/NAME.yaml) and suites (scenarios/suites/NAME.yaml), parsed with libyaml
 * into validated, read-only C structs. Nothing here opens a fixture: a
 * struct pl_fixture_cfg carries the driver and the struct pl_opts that
 * pl_power_open()/pl_console_open()/pl_probe_open() take, and the live
 * handles are the engine's business (configuration apart from live handles).
 *
 * Errors are collected, not thrown: every loader appends to a struct
 * pl_diags, one entry per mistake, each naming FILE:LINE:COL and what was
 * expected, and keeps going so that one run of `patchlab check` lists them
 * all. A loader returns -PL_ECONFIG when it added at least one error (and
 * then yields no object), -ENOMEM when memory ran out, 0 otherwise.
 *
 * Ownership: every string, array and value tree reachable from a loaded
 * object belongs to that object and lives until its pl_*_free(). The
 * struct pl_opts of a fixture borrows from the lab: keep the lab alive as
 * long as any fixture opened from it.
 *
 * Threads: a loaded object is immutable, so any thread may read it. The
 * loaders are reentrant (no global state; environment reads go through
 * struct pl_config_opts.getenv).
 *
 * The file formats are documented in docs/configuration.md.
 */
#ifndef PATCHLAB_CONFIG_H
#define PATCHLAB_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "patchlab/fixture.h"

/* ------------------------------------------------------------ diagnostics */

/* One error. Strings belong to the list. line/col are 1-based, 0 when the
 * error has no position in a file (a command-line override, a Lua error
 * that names only a line). */
struct pl_diag {
	const char *file;
	unsigned line;
	unsigned col;
	const char *msg; /* what is wrong and what was expected; no "error:" */
};

struct pl_diags;

/* A new, empty list; free it with pl_diags_free(). Returns 0 or -ENOMEM. */
int pl_diags_new(struct pl_diags **out);
/* Accepts NULL. */
void pl_diags_free(struct pl_diags *d);

/*
 * Append an error at pos (pos may be NULL: no position). Never fails: when
 * memory runs out the list remembers that it is incomplete and
 * pl_diags_print() says so. Past 500 errors further ones are counted, not
 * kept.
 */
void pl_diags_add(struct pl_diags *d, const struct pl_srcpos *pos,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

size_t pl_diags_count(const struct pl_diags *d);
/* The i-th error in the order found, or NULL past the end. Borrowed. */
const struct pl_diag *pl_diags_at(const struct pl_diags *d, size_t i);

/*
 * Print every error as "FILE:LINE:COL: error: MSG" (":COL" left out when 0,
 * ":LINE:COL" when the line is 0), one per line, to f (stderr in the CLI).
 */
void pl_diags_print(const struct pl_diags *d, FILE *f);

/* ---------------------------------------------------------- value tree */

/*
 * A generic YAML value with its position: what `params:` of a suite run and
 * `vars:` of a board keep, for the Lua host to turn into tables. Scalars
 * stay text; `plain` says the scalar was unquoted, so a consumer may read
 * it as a number, boolean or null (pl_value_number, pl_value_bool,
 * pl_value_is_null) -- a quoted "42" is always the string 42.
 */
enum pl_value_kind {
	PL_VALUE_SCALAR,
	PL_VALUE_LIST,
	PL_VALUE_MAP,
};

struct pl_value {
	enum pl_value_kind kind;
	struct pl_srcpos pos;
	const char *str;  /* SCALAR: the text, never NULL ("" for `key:`) */
	bool plain;       /* SCALAR: written without quotes */
	size_t n;         /* LIST, MAP: number of entries */
	const struct pl_value *const *items; /* LIST items, MAP values */
	const char *const *keys;             /* MAP keys (unique), in order */
	const struct pl_srcpos *key_pos;     /* MAP: where each key is */
};

/* The value of key in a MAP, or NULL (also when v is NULL or not a map). */
const struct pl_value *pl_value_get(const struct pl_value *v, const char *key);
/* A plain scalar that reads as null: empty, "~", "null". */
bool pl_value_is_null(const struct pl_value *v);
/* A plain scalar as a number (integer, 0x hex or float); -EINVAL if not. */
int pl_value_number(const struct pl_value *v, double *out, bool *is_integer);
/* A plain scalar as a YAML boolean (true/false/yes/no/on/off); -EINVAL. */
int pl_value_bool(const struct pl_value *v, bool *out);

/* ---------------------------------------------------------- load options */

/*
 * How loaders find things. Every member may be zero/NULL. Borrowed for the
 * duration of the call only.
 */
struct pl_config_opts {
	/* Directories searched for board types before the lab's boards_path,
	 * $PL_BOARDS_PATH and <source>/boards. NULL-terminated. */
	const char *const *boards_path;
	/* Suites: where run scenario paths resolve. NULL: the parent of the
	 * suite's directory when that is called "suites" (scenarios/suites/x
	 * -> scenarios/), else the suite's directory. */
	const char *scenarios_dir;
	/* Suites: "NAME=PATH" overrides of image paths (--image), NULL-term. */
	const char *const *image_overrides;
	/* ${VAR} look-up: the lab's vars first when lab is set, then getenv
	 * (NULL means getenv(3)). */
	const struct pl_lab *lab;
	/* ${VAR} look-up after the lab's vars; NULL means getenv(3). */
	const char *(*getenv)(void *user_data, const char *name);
	void *env_user_data;
};

/* ---------------------------------------------------------- board types */

/* A named capture group of a console pattern: group 1..re_nsub. */
struct pl_capture {
	const char *name;  /* "version", "slot", "reason", "percent", ... */
	unsigned group;
};

/* A console pattern: a POSIX extended regex matched against one line (the
 * line ending removed), compiled (REG_EXTENDED) and ready for regexec(). */
struct pl_pattern {
	const char *regex;
	regex_t re;
	const struct pl_capture *captures;
	size_t ncaptures;
	struct pl_srcpos pos;
};

/* The group of capture `name`, or -1 when the pattern does not capture it. */
int pl_pattern_group(const struct pl_pattern *p, const char *name);

enum pl_update_method {
	PL_UPDATE_NONE,    /* the board type cannot be updated by the lab */
	PL_UPDATE_XMODEM,  /* console command, then XMODEM-1K/CRC */
	PL_UPDATE_LUA,     /* a Lua module under scenarios/lib/ does it */
};

struct pl_flash_region {
	const char *name;
	uint64_t offset;   /* from the flash base */
	uint64_t size;
	struct pl_srcpos pos;
};

/* A named address: a breakpoint (flash_erase) or a register (op_counter). */
struct pl_named_addr {
	const char *name;
	uint64_t addr;
	struct pl_srcpos pos;
};

enum pl_recovery_method {
	PL_RECOVERY_NONE,
	PL_RECOVERY_PROBE,  /* write `image` into `region` through the probe */
	PL_RECOVERY_EXEC,   /* run `command` (a vendor flasher, an SD mux)
	                     * with the board off; exit 0: restored */
	PL_RECOVERY_MANUAL, /* a person restores it: set aside until then */
	PL_RECOVERY_LUA,    /* a Lua module (scenarios/lib, scenario_path)
	                     * carries out the recovery dialog; returns:
	                     * restored */
};

/* One option of a board type's boot-mode fixture: its text may hold
 * %{NAME} (the board's vars, then the lab's; %{board}), replaced when the
 * fixture is opened for a board. */
struct pl_boot_mode_opt {
	const char *key;
	const char *value;
	struct pl_srcpos pos;
};

/*
 * A board type: how one kind of board boots, says its version, takes an
 * update and is recovered. Every pattern pointer is NULL when the file does
 * not give it (boot_ok is always set). Times are milliseconds.
 */
struct pl_board_type {
	const char *name;
	const char *description;   /* "" when absent */
	const char *file;          /* the YAML file it came from */
	struct {
		const struct pl_pattern *banner;    /* first line after power-on */
		const struct pl_pattern *prompt;    /* shell ready for a command */
		const struct pl_pattern *boot_ok;   /* captures version, slot */
		const struct pl_pattern *boot_fail; /* captures reason */
		const struct pl_pattern *settled;   /* the boot is committed:
		                                     * after it, a cut cannot
		                                     * undo the boot (NULL:
		                                     * the type says none) */
		const char *newline;               /* sent after a command: "\n" */
	} console;
	uint64_t boot_timeout_ms;
	/* how far a console- or time-aimed cut may land from its instant
	 * before its run starts again (fault.cut tolerance_ms overrides) */
	uint64_t cut_tolerance_ms;
	struct {
		const char *command;               /* NULL: read from boot_ok */
		const struct pl_pattern *pattern;  /* captures version (slot, state) */
		uint64_t timeout_ms;
	} version;
	struct {
		enum pl_update_method method;
		/* PL_UPDATE_XMODEM */
		const char *command;                /* "update xmodem" */
		const struct pl_pattern *start;     /* receiver ready (may be NULL) */
		const struct pl_pattern *progress;  /* captures percent (may be NULL) */
		const struct pl_pattern *done;      /* captures slot */
		const struct pl_pattern *error;     /* captures reason */
		unsigned block_size;                /* 128 or 1024 */
		uint64_t timeout_ms;
		/* PL_UPDATE_LUA */
		const char *lua_module;             /* "vendor.update" */
		struct pl_srcpos lua_pos;           /* where it is named */
	} update;
	struct {
		const char *command;                /* NULL when absent */
		const struct pl_pattern *pattern;
	} confirm;
	struct {
		uint64_t base;     /* address of offset 0 on the probe's bus */
		uint64_t size;     /* 0: the board type describes no flash */
		uint64_t sector;
		uint64_t page;
		const struct pl_flash_region *regions;
		size_t nregions;
	} flash;
	struct {
		const struct pl_named_addr *breakpoints;
		size_t nbreakpoints;
		const struct pl_named_addr *registers;
		size_t nregisters;
	} probe;
	struct {
		enum pl_recovery_method method;
		const char *image;                   /* a suite image name or a path */
		const struct pl_flash_region *region; /* probe: where it goes */
		/* exec: argv, NULL-terminated; %{board}, %{type}, %{image}
		 * (the image's path) and %{NAME} of the board's and the lab's
		 * vars are replaced when it runs */
		const char *const *command;
		size_t ncommand;
		uint64_t timeout_ms;                 /* exec, lua: default 60 s */
		/* exec: the lab holds the boot-mode line and powers the board
		 * on for the command, then powers it off and releases it */
		bool boot_mode;
		/* lua: the module ("lib.gateway.rom_recover") and where it
		 * is named */
		const char *lua_module;
		struct pl_srcpos lua_pos;
	} recovery;
	/*
	 * The boot-mode control: a line held while the board powers on (a
	 * strap, USB boot mode), driven as a power fixture of the lab's
	 * (a relay channel: on = held, off = released). driver NULL: the
	 * type has none.
	 */
	struct {
		const struct pl_driver_info *driver;  /* a power driver */
		const struct pl_boot_mode_opt *opts;
		size_t nopts;
		/* after the line switched, before the board is powered: a
		 * relay's contact time, and a separate channel's command
		 * reaching its board (default 20 ms) */
		uint64_t settle_ms;
		struct pl_srcpos pos;
	} boot_mode;
	struct pl_srcpos pos;
};

/*
 * Load one board type file. On success *out must be freed with
 * pl_board_type_free(). Returns 0, -PL_ECONFIG (errors added to diags) or
 * -ENOMEM. Blocking file I/O: call it before the loop starts.
 */
int pl_board_type_load(struct pl_board_type **out, const char *path,
		       const struct pl_config_opts *opts, struct pl_diags *diags);
/* Accepts NULL. Only for types from pl_board_type_load(), never for those
 * a lab owns. */
void pl_board_type_free(struct pl_board_type *t);

/* Flash region by name, or NULL. */
const struct pl_flash_region *pl_board_type_region(const struct pl_board_type *t,
						   const char *name);
/* Breakpoint / register address by name; -ENOENT when not declared. */
int pl_board_type_breakpoint(const struct pl_board_type *t, const char *name,
			     uint64_t *addr);
int pl_board_type_register(const struct pl_board_type *t, const char *name,
			   uint64_t *addr);

/* ------------------------------------------------------------------ labs */

/* One fixture of a board, validated against its driver's option specs,
 * with the lab's defaults merged in. */
struct pl_fixture_cfg {
	enum pl_fixture_class cls;
	const struct pl_driver_info *driver;  /* from the registry */
	struct pl_opts opts;                  /* pass to pl_<class>_open() */
	struct pl_srcpos pos;                 /* the fixture's mapping */
};

/* The longest board id a lab may use: it names files (console logs, lock
 * files) and every log line of the board. */
#define PL_BOARD_ID_MAX 64

struct pl_board_cfg {
	const char *id;
	const struct pl_board_type *type;     /* owned by the lab */
	const char *const *tags;
	size_t ntags;
	/* indexed by enum pl_fixture_class; power and console always set,
	 * probe NULL when the board has none */
	const struct pl_fixture_cfg *fixture[PL_FIXTURE_NCLASSES];
	const struct pl_value *vars;          /* MAP of scalars, or NULL */
	const struct pl_value *lab_vars;      /* the lab's `vars:`, or NULL */
	/* `images:` of the board: a suite image of the same name is this
	 * file on this board (its own factory flash, say) */
	const struct pl_image_cfg *images;
	size_t nimages;
	struct pl_srcpos pos;
};

/* The text of var name: the board's `vars:` first, then the lab's; NULL
 * when neither has it (or it is not a scalar). */
const char *pl_board_cfg_var(const struct pl_board_cfg *b, const char *name);

/*
 * s with %{board}, %{type} and %{NAME} (the board's vars, then the lab's)
 * replaced: malloc'ed (free() it), or NULL with why in err (an unknown
 * name, an unterminated %{, out of memory).
 */
char *pl_board_cfg_subst(const struct pl_board_cfg *b, const char *s,
			 char *err, size_t nerr);

/* The same with %{image} known as well (a recovery command): image, the
 * path of the image the recovery writes; NULL when there is none, and then
 * %{image} is an error. */
char *pl_board_cfg_subst_image(const struct pl_board_cfg *b, const char *s,
			       bool with_image, const char *image, char *err,
			       size_t nerr);

/*
 * A lab: its boards in file order and the board types they use. Treat every
 * member as read-only; `priv` is the loader's.
 */
struct pl_lab {
	const char *name;          /* "" when the file gives none */
	const char *file;
	/* `vars:` (MAP of scalars, or NULL): ${NAME} in the lab file and in
	 * the files loaded with pl_config_opts.lab set to it, %{NAME} in a
	 * recovery command */
	const struct pl_value *vars;
	const struct pl_board_cfg *boards;
	size_t nboards;
	const struct pl_board_type *const *types; /* distinct, in first-use order */
	size_t ntypes;
	struct pl_cfg_priv *priv;
};

/*
 * Load lab.yaml and every board type it names (searched in opts->boards_path,
 * the lab's lab.boards_path (relative to the lab file), each directory of
 * $PL_BOARDS_PATH, then the source tree's boards/). On success *out must be
 * freed with pl_lab_free(). Returns 0, -PL_ECONFIG or -ENOMEM. Blocking I/O.
 */
int pl_lab_load(struct pl_lab **out, const char *path,
		const struct pl_config_opts *opts, struct pl_diags *diags);
/* Accepts NULL. Invalidates every pointer obtained from the lab. */
void pl_lab_free(struct pl_lab *lab);

const struct pl_board_cfg *pl_lab_board(const struct pl_lab *lab,
					const char *id);
const struct pl_board_type *pl_lab_board_type(const struct pl_lab *lab,
					      const char *name);
bool pl_board_has_tag(const struct pl_board_cfg *b, const char *tag);

/*
 * Find the file of board type `name` along the search path described at
 * pl_lab_load() (extra: more directories tried after opts->boards_path,
 * NULL-terminated, may be NULL). Returns a malloc'ed path the caller frees,
 * or NULL when there is none.
 */
char *pl_board_type_find(const char *name, const struct pl_config_opts *opts,
			 const char *const *extra);

/* ---------------------------------------------------------------- suites */

struct pl_image_cfg {
	const char *name;
	const char *path;     /* ${VAR} expanded, resolved, a regular file */
	const char *version;  /* NULL when not given */
	struct pl_srcpos pos;
	uint64_t size;        /* bytes when loaded (never 0) */
};

enum pl_select_kind {
	PL_SELECT_ALL,     /* no `on:`: every board of the lab */
	PL_SELECT_BOARDS,
	PL_SELECT_TYPES,
	PL_SELECT_TAGS,    /* boards carrying every one of the tags */
};

enum pl_sweep_over {
	PL_SWEEP_FLASH_OPS,
	PL_SWEEP_TIME,
	PL_SWEEP_BYTES,
	PL_SWEEP_PROGRESS,
	PL_SWEEP_CONSOLE,  /* a delay after the nth line matching pattern */
};

enum pl_sweep_phase {
	PL_PHASE_BEFORE = 1u << 0,
	PL_PHASE_DURING = 1u << 1,
	PL_PHASE_AFTER = 1u << 2,
};

enum pl_sweep_strategy {
	PL_STRATEGY_EXHAUSTIVE,
	PL_STRATEGY_UNIFORM,
	PL_STRATEGY_ADAPTIVE,
	PL_STRATEGY_RANDOM,
};

struct pl_sweep_cfg {
	const char *scenario;       /* NULL: the run's scenario */
	enum pl_sweep_over over;
	unsigned phases;            /* enum pl_sweep_phase bits; default DURING */
	unsigned points;            /* 0 means all */
	enum pl_sweep_strategy strategy;
	uint64_t seed;
	bool has_seed;
	const struct pl_sweep_cfg *nested; /* cut again during recovery, or NULL */
	/* over: console (pattern, nth) and time: the delay swept, in µs,
	 * after the pattern's nth line or after the scenario arms the cut */
	const char *pattern;        /* console: a POSIX ERE */
	unsigned nth;               /* console: 1-based; default 1 */
	uint64_t delay_lo_us, delay_hi_us;
	uint64_t step_us;           /* exhaustive grid step; default 1 ms */
	uint64_t resolution_us;     /* adaptive: edges to this; default 500 */
	struct pl_srcpos pos;
};

/* Budgets; 0 in a suite's defaults means "the controller's default". */
struct pl_budget_cfg {
	uint64_t run_timeout_ms;
	uint64_t instructions;
	uint64_t memory;            /* bytes */
};

struct pl_run_cfg {
	const char *scenario;       /* resolved path of an existing file */
	struct {
		enum pl_select_kind kind;
		const char *const *names;
		const struct pl_srcpos *name_pos; /* where each name is */
		size_t n;
		struct pl_srcpos pos;     /* the `on:` mapping, or the run */
	} on;
	const struct pl_value *params;   /* as written (any YAML), or NULL */
	unsigned repeat;                 /* >= 1 */
	const struct pl_sweep_cfg *sweep;/* NULL: run once per board */
	struct pl_budget_cfg budget;     /* the suite defaults, overridden */
	struct pl_srcpos pos;
};

struct pl_gate_cfg {
	double max_brick_rate;      /* 0..1; 0 when not given (no brick allowed) */
	unsigned min_cuts;          /* 0: no minimum */
	bool given;
	struct pl_srcpos pos;
};

struct pl_suite {
	const char *name;
	const char *file;
	const char *scenarios_dir;
	/* `scenario_path:`: more directories scenarios and `require`d
	 * modules are found in, after scenarios_dir (resolved against the
	 * suite's directory, ${VAR}-expanded). NULL-terminated; never NULL. */
	const char *const *scenario_path;
	const struct pl_image_cfg *images;
	size_t nimages;
	const struct pl_run_cfg *runs;
	size_t nruns;
	struct pl_gate_cfg gate;
	struct pl_budget_cfg defaults;
	struct pl_cfg_priv *priv;
};

/*
 * Load a suite. Image paths are ${VAR}-expanded, resolved against the suite's
 * directory, overridden by opts->image_overrides, and must exist; scenario
 * files must exist under the scenarios directory or a scenario_path one. On success *out must be
 * freed with pl_suite_free(). Returns 0, -PL_ECONFIG or -ENOMEM.
 */
int pl_suite_load(struct pl_suite **out, const char *path,
		  const struct pl_config_opts *opts, struct pl_diags *diags);
/* Accepts NULL. */
void pl_suite_free(struct pl_suite *s);

const struct pl_image_cfg *pl_suite_image(const struct pl_suite *s,
					  const char *name);

/*
 * Check a suite's board selections against a lab: named boards and types
 * exist, every run selects at least one board. Adds errors to diags (at the
 * suite's positions); returns 0 or -PL_ECONFIG.
 */
int pl_suite_check_lab(const struct pl_suite *s, const struct pl_lab *lab,
		       struct pl_diags *diags);

/* Does run r select board b (by id, type or tags)? */
bool pl_run_selects(const struct pl_run_cfg *r, const struct pl_board_cfg *b);

/* ------------------------------------------------------------- checking */

enum pl_config_kind {
	PL_CONFIG_AUTO,   /* recognise by content, then by location */
	PL_CONFIG_LAB,
	PL_CONFIG_BOARD,
	PL_CONFIG_SUITE,
	PL_CONFIG_LUA,    /* syntax only */
};

/* "lab", "board type", "suite", "Lua script", "file" */
const char *pl_config_kind_name(enum pl_config_kind kind);

/*
 * Validate one file as `patchlab check` does: a lab with its board types, a
 * board type, a suite with its scenario files, or a Lua file (syntax only).
 * *kind_out (may be NULL) says what it was taken for. Returns 0,
 * -PL_ECONFIG (errors in diags) or -ENOMEM.
 */
int pl_config_check_file(const char *path, enum pl_config_kind kind,
			 const struct pl_config_opts *opts,
			 struct pl_diags *diags, enum pl_config_kind *kind_out);

/*
 * The same on bytes in memory (for fuzzing and tests): name is used in
 * messages and to resolve relative paths. Never crashes on any input.
 */
int pl_config_check_buffer(const char *name, const void *buf, size_t len,
			   enum pl_config_kind kind,
			   const struct pl_config_opts *opts,
			   struct pl_diags *diags, enum pl_config_kind *kind_out);

/* --------------------------------------------------------------- parsers */

/* "500ms", "5s", "2m", "1h" -> milliseconds. -EINVAL otherwise. */
int pl_parse_duration_ms(const char *s, uint64_t *out);
/* "4096", "0x1000", "4KiB", "1MiB", "1GiB" -> bytes. -EINVAL otherwise. */
int pl_parse_size(const char *s, uint64_t *out);

#endif
