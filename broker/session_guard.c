/*
 * energia session guard: a Mosquitto 2.0 plugin (version 5 API) that stops one account from
 * taking over another account's session by connecting with the same client id.
 *
 * Why: MQTT gives a client id's session (subscriptions and queued messages) to whoever connects
 * with that id next. A meter that logged in with its own password but the ingest worker's
 * client id would disconnect the worker and, with a clean start, wipe the readings queued for
 * it; without one, Mosquitto drops every queued message the new account may not read. Either
 * way readings the broker acknowledged to the meters are lost. Mosquitto's own remedy,
 * `use_username_as_clientid`, would give every ingest worker the client id "ingest", while
 * SPEC §7 gives each worker its own INGEST_CLIENT_ID on a shared account.
 *
 * Rules, checked at login before the password file (a refusal is "not authorised"):
 *   1. A client id claimed by an account may be used only by that account. Ids are claimed
 *      up front (`reserved`) or by the first authenticated use by a service account
 *      (`service_users`): its first subscribe or publish records the id, and `claims_file`
 *      keeps the record across restarts, as Mosquitto keeps the session.
 *   2. `meter-<N>`, the client id simulated meters use, may be used only by account N.
 * Anything else is left to the password file and ACL (the plugin answers "defer").
 *
 * Options (mosquitto.conf, after the `plugin` line):
 *   plugin_opt_service_users ingest            accounts whose client ids are claimed
 *   plugin_opt_reserved energy-ingest=ingest   ids claimed from the start, space-separated id=user
 *   plugin_opt_claims_file /path/claims        learned claims, one "user<TAB>id" line each
 *
 * Built by `python -m broker setup` (broker/guard.py) with: cc -shared -fPIC.
 */

#define _POSIX_C_SOURCE 200809L  /* strdup */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define MAX_CLAIMS 4096
#define MAX_SERVICES 16
#define MAX_ID_LENGTH 512  /* longer ids are not claimed (and a claims line fits the read buffer) */
#define METER_PREFIX "meter-"

struct claim {
	char *id;
	char *user;
};

static mosquitto_plugin_id_t *plugin_id;
static struct claim claims[MAX_CLAIMS];
static int claim_count;
static char *services[MAX_SERVICES];
static int service_count;
static char *claims_path;

static const char *owner_of(const char *id)
{
	for(int i = 0; i < claim_count; i++){
		if(!strcmp(claims[i].id, id)) return claims[i].user;
	}
	return NULL;
}

static int add_claim(const char *id, const char *user)
{
	if(owner_of(id)) return 0;
	if(claim_count == MAX_CLAIMS){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "session guard: %d client ids claimed; not claiming %s", MAX_CLAIMS, id);
		return 0;
	}
	claims[claim_count].id = strdup(id);
	claims[claim_count].user = strdup(user);
	if(!claims[claim_count].id || !claims[claim_count].user) return -1;
	claim_count++;
	return 1;
}

static int is_service(const char *user)
{
	for(int i = 0; user && i < service_count; i++){
		if(!strcmp(services[i], user)) return 1;
	}
	return 0;
}

/* The N of a client id "meter-N" (N canonical decimal digits), or NULL. */
static const char *meter_number(const char *id)
{
	size_t prefix = strlen(METER_PREFIX);
	if(strncmp(id, METER_PREFIX, prefix)) return NULL;
	const char *digits = id + prefix;
	if(!*digits || strspn(digits, "0123456789") != strlen(digits)) return NULL;
	return digits;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *id = mosquitto_client_id(ed->client);
	const char *user = ed->username;
	const char *owner, *number;
	(void)event; (void)userdata;

	if(!id) return MOSQ_ERR_PLUGIN_DEFER;
	owner = owner_of(id);
	if(owner && (!user || strcmp(owner, user))){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "session guard: refused %s as client id %s, which belongs to %s",
				user ? user : "an anonymous client", id, owner);
		return MOSQ_ERR_AUTH;
	}
	number = meter_number(id);
	if(number && (!user || strcmp(number, user))){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "session guard: refused %s as client id %s, which belongs to meter %s",
				user ? user : "an anonymous client", id, number);
		return MOSQ_ERR_AUTH;
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

static void save_claim(const char *user, const char *id)
{
	FILE *file;
	if(!claims_path) return;
	file = fopen(claims_path, "a");
	if(!file){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "session guard: cannot write %s; the claim of %s lasts until a restart",
				claims_path, id);
		return;
	}
	fprintf(file, "%s\t%s\n", user, id);
	fclose(file);
}

/* Only authenticated clients get here, so this is where a service account claims its id. */
static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	const char *user = mosquitto_client_username(ed->client);
	const char *id = mosquitto_client_id(ed->client);
	(void)event; (void)userdata;

	if(id && is_service(user) && strlen(id) < MAX_ID_LENGTH && !strpbrk(id, "\t\r\n") && !owner_of(id)){
		if(add_claim(id, user) == 1){
			save_claim(user, id);
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "session guard: client id %s now belongs to %s", id, user);
		}
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

static void load_claims(void)
{
	char line[MAX_ID_LENGTH + 128];
	FILE *file = fopen(claims_path, "r");
	if(!file) return;
	while(fgets(line, sizeof(line), file)){
		char *tab = strchr(line, '\t');
		line[strcspn(line, "\r\n")] = '\0';
		if(!tab || tab == line || !tab[1]) continue;
		*tab = '\0';
		add_claim(tab + 1, line);
	}
	fclose(file);
}

/* Split a space-separated option value in place; calls `use` on each word. */
static int each_word(char *text, int (*use)(char *word))
{
	for(char *word = strtok(text, " "); word; word = strtok(NULL, " ")){
		if(use(word)) return MOSQ_ERR_INVAL;
	}
	return MOSQ_ERR_SUCCESS;
}

static int add_service(char *word)
{
	if(service_count == MAX_SERVICES) return 1;
	services[service_count] = strdup(word);
	return services[service_count++] == NULL;
}

static int add_reserved(char *word)
{
	char *equals = strchr(word, '=');
	if(!equals || equals == word || !equals[1]) return 1;
	*equals = '\0';
	return add_claim(word, equals + 1) < 0;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options, int option_count)
{
	int rc = MOSQ_ERR_SUCCESS;
	(void)userdata;
	plugin_id = identifier;
	for(int i = 0; i < option_count && rc == MOSQ_ERR_SUCCESS; i++){
		char *value = strdup(options[i].value ? options[i].value : "");
		if(!value) return MOSQ_ERR_NOMEM;
		if(!strcmp(options[i].key, "service_users")){
			rc = each_word(value, add_service);
		}else if(!strcmp(options[i].key, "reserved")){
			rc = each_word(value, add_reserved);
		}else if(!strcmp(options[i].key, "claims_file")){
			claims_path = strdup(value);
		}
		free(value);
	}
	if(rc != MOSQ_ERR_SUCCESS){
		mosquitto_log_printf(MOSQ_LOG_ERR, "session guard: bad option (service_users: names; reserved: id=user ...)");
		return rc;
	}
	if(claims_path) load_claims();
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "session guard: %d client ids claimed, %d service accounts",
			claim_count, service_count);
	rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL);
	if(rc == MOSQ_ERR_SUCCESS){
		rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
	}
	return rc;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata; (void)options; (void)option_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	for(int i = 0; i < claim_count; i++){
		free(claims[i].id);
		free(claims[i].user);
	}
	for(int i = 0; i < service_count; i++) free(services[i]);
	free(claims_path);
	claim_count = service_count = 0;
	claims_path = NULL;
	return MOSQ_ERR_SUCCESS;
}
