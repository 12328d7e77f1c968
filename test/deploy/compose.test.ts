import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activeServices,
  type ComposeModel,
  type ComposeService,
  DEPLOY_HOW,
  DEPLOY_TOOLS,
  resolveCompose,
  scratchDeploy,
} from './compose-model.js';

const PROFILES: Record<string, string[]> = {
  default: ['engram'],
  postgres: ['engram', 'engram-pg', 'postgres', 'redis'],
  bot: ['bot', 'engram'],
  llm: ['engram', 'vllm'],
  ollama: ['engram', 'ollama'],
  monitoring: ['engram', 'grafana', 'prometheus'],
};
const SECRET_NAME = /(PASSWORD|TOKEN|API_KEY|SECRET|_URL)$/;

/** A volume entry in either spelling: `source:target[:mode]` (docker-compose v1) or the long form. */
function mount(volume: NonNullable<ComposeService['volumes']>[number]): { source: string; target: string } {
  if (typeof volume === 'object') return { source: volume.source ?? '', target: volume.target };
  const [source = '', target = ''] = volume.split(':');
  return { source, target };
}

(DEPLOY_TOOLS ? describe : describe.skip)(
  `deploy/compose.yaml${DEPLOY_TOOLS ? '' : ` (skipped: ${DEPLOY_HOW})`}`,
  () => {
    const scratch = scratchDeploy({ ENGRAM_REPLICAS: '3', VLLM_MODEL: 'org/test-model' });
    const models = new Map<string, ComposeModel>();
    const profileArgs = (profile: string) => (profile === 'default' ? [] : [profile]);

    beforeAll(async () => {
      for (const profile of Object.keys(PROFILES)) {
        models.set(profile, await resolveCompose(scratch.dir, profileArgs(profile)));
      }
    });
    afterAll(() => scratch.remove());

    it.each(Object.entries(PROFILES))('profile %s validates and runs the expected services', (profile, expected) => {
      const model = models.get(profile) as ComposeModel;
      expect(activeServices(model, profileArgs(profile))).toEqual(expected);
    });

    it.each(Object.keys(PROFILES))('profile %s: every service restarts, is health-checked and limited', (profile) => {
      const model = models.get(profile) as ComposeModel;
      const active = activeServices(model, profileArgs(profile));
      for (const name of active) {
        const service = model.services[name] as ComposeService;
        expect(service.restart, name).toBe('unless-stopped');
        // The bot has no port to probe (long polling): its health is the process, restarted on exit.
        // (docker-compose v1 writes `disable: true` as the test NONE.)
        if (name === 'bot') {
          const check = service.healthcheck;
          expect(check?.disable === true || check?.test?.[0] === 'NONE', 'bot health check disabled').toBe(true);
        } else {
          expect(service.healthcheck?.test, name).toBeTruthy();
          expect(service.healthcheck?.start_period, name).toMatch(/^\d+[ms]/);
        }
        // vLLM reserves GPUs instead of a CPU/memory cap.
        const resources = service.deploy?.resources;
        expect(resources?.limits?.memory ?? resources?.reservations?.devices, name).toBeTruthy();
        // A dependency must be started by the same profile, or `up` fails.
        for (const dependency of Object.keys(service.depends_on ?? {})) {
          expect(active, `${name} depends on ${dependency}`).toContain(dependency);
          expect(service.depends_on?.[dependency]?.condition).toBe('service_healthy');
        }
        for (const network of Object.keys(service.networks ?? {})) expect(model.networks).toHaveProperty(network);
        for (const { source } of service.secrets ?? []) expect(model.secrets[source]?.file).toContain('/secrets/');
      }
    });

    it('runs Engram read-only, without capabilities, with its data on a volume', () => {
      const model = models.get('postgres') as ComposeModel;
      for (const name of ['engram', 'engram-pg']) {
        const service = model.services[name] as ComposeService;
        expect(service.read_only).toBe(true);
        const data = (service.volumes ?? []).map(mount).find((v) => v.target === '/data');
        expect(data?.source, `${name} data volume`).toBeTruthy();
        expect(model.volumes, 'a named volume, not a host path').toHaveProperty(data?.source as string);
      }
      // The default service is published on loopback unless ENGRAM_PUBLISH says otherwise.
      expect(JSON.stringify(model.services.engram?.ports)).toContain('127.0.0.1');
    });

    it('keeps databases on the internal network and secrets out of the environment', () => {
      const model = models.get('postgres') as ComposeModel;
      expect(model.networks.backend?.internal).toBe(true);
      for (const name of ['postgres', 'redis'])
        expect(Object.keys(model.services[name]?.networks ?? {})).toEqual(['backend']);
      for (const profile of Object.keys(PROFILES)) {
        const resolved = models.get(profile) as ComposeModel;
        for (const [name, service] of Object.entries(resolved.services)) {
          for (const [key, value] of Object.entries(service.environment ?? {})) {
            // A secret is passed as a file, never as a value (ENGRAM_BOT_SERVER_URL is a plain address).
            if (SECRET_NAME.test(key) && key !== 'ENGRAM_BOT_SERVER_URL') expect(value, `${name} ${key}`).toBeFalsy();
          }
        }
      }
    });

    it('postgres replicas use the shared store and Redis, and .env sets their number', () => {
      const replica = models.get('postgres')?.services['engram-pg'] as ComposeService;
      expect(replica.deploy?.replicas).toBe(3);
      expect(replica.environment).toMatchObject({
        ENGRAM_STORE: 'postgres',
        ENGRAM_POSTGRES_URL_FILE: '/run/secrets/postgres_url',
        ENGRAM_REDIS_URL_FILE: '/run/secrets/redis_url',
      });
    });

    it('the bot reaches the server by its service name with an admin key from a secret', () => {
      const bot = models.get('bot')?.services.bot as ComposeService;
      expect(bot.command).toEqual(['bot']);
      expect(bot.environment).toMatchObject({
        ENGRAM_BOT_SERVER_URL: 'http://engram:8765',
        ENGRAM_BOT_API_KEY_FILE: '/run/secrets/bot_api_key',
        ENGRAM_TELEGRAM_TOKEN_FILE: '/run/secrets/telegram_token',
      });
    });

    it('vLLM takes its model from .env and reserves a GPU', () => {
      const vllm = models.get('llm')?.services.vllm as ComposeService;
      expect(vllm.command).toEqual(expect.arrayContaining(['--model', 'org/test-model']));
      expect(JSON.stringify(vllm.deploy?.resources?.reservations?.devices)).toContain('gpu');
    });

    it('monitoring mounts configuration files that exist', () => {
      const model = models.get('monitoring') as ComposeModel;
      for (const name of ['prometheus', 'grafana']) {
        const binds = (model.services[name]?.volumes ?? []).map(mount).filter((v) => v.source.startsWith('/'));
        expect(binds.length, name).toBeGreaterThan(0);
        for (const bind of binds) expect(existsSync(bind.source), `${name}: ${bind.source}`).toBe(true);
      }
    });

    it('rejects a broken file (the validator is not a no-op)', async () => {
      const broken = readFileSync(join(scratch.dir, 'compose.yaml'), 'utf8').replace(
        'condition: service_healthy',
        'condition: when_healthy',
      );
      writeFileSync(join(scratch.dir, 'broken.yaml'), broken);
      await expect(resolveCompose(scratch.dir, ['postgres'], 'broken.yaml')).rejects.toThrow(/condition/);
    });
  },
);
