// The Dockerfile reader and replay the container test relies on (support/dockerfile.ts): continuations,
// flags and exec forms read as Docker reads them, .dockerignore anchored at the context root, and a
// replay that refuses what it cannot sandbox rather than touching the machine.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerignoreMatcher, parseDockerfile, replayDockerfile } from '../support/dockerfile.js';

describe('parseDockerfile', () => {
  it('reads stages, flags, continuations (skipping comment lines in them) and exec forms', () => {
    const stages = parseDockerfile(
      [
        '# syntax=docker/dockerfile:1',
        'FROM node:20-bookworm-slim AS build',
        'run npm ci \\',
        '# a comment inside the continuation',
        ' && npm run build',
        'FROM node:20-bookworm-slim',
        'COPY --from=build --chown=node:node /app/out ./',
        'CMD ["node", "main.js"]',
      ].join('\n'),
    );
    expect(stages.map((stage) => [stage.name, stage.base])).toEqual([
      ['build', 'node:20-bookworm-slim'],
      ['1', 'node:20-bookworm-slim'],
    ]);
    expect(stages[0]!.instructions[0]).toMatchObject({ keyword: 'RUN', args: expect.stringMatching(/^npm ci\s+&& npm run build$/), line: 3 });
    expect(stages[1]!.instructions[0]).toMatchObject({ keyword: 'COPY', flags: { from: 'build', chown: 'node:node' }, args: '/app/out ./' });
    expect(stages[1]!.instructions[1]!.exec).toEqual(['node', 'main.js']);
  });

  it('refuses an instruction before FROM', () => {
    expect(() => parseDockerfile('RUN true\nFROM x')).toThrow(/before the first FROM/);
  });
});

describe('dockerignoreMatcher', () => {
  it('anchors patterns at the root, lets ** cross folders, and re-includes with !', () => {
    const ignored = dockerignoreMatcher('dist\n**/node_modules\n*.log\ndata/\n!data/keep.txt\n');
    expect(ignored('dist')).toBe(true);
    expect(ignored('dist/main.js')).toBe(true);
    expect(ignored('apps/api/dist/main.js')).toBe(false);
    expect(ignored('node_modules/x/index.js')).toBe(true);
    expect(ignored('packages/executors/node_modules/which/bin')).toBe(true);
    expect(ignored('debug.log')).toBe(true);
    expect(ignored('logs/debug.log')).toBe(false);
    expect(ignored('data/files/a')).toBe(true);
    expect(ignored('data/keep.txt')).toBe(false);
  });
});

describe('replayDockerfile', () => {
  const repoWith = (dockerfile: string): string => {
    const repo = mkdtempSync(join(tmpdir(), 'te-dockerfile-'));
    writeFileSync(join(repo, 'Dockerfile'), dockerfile);
    return repo;
  };

  it('refuses RUN lines with absolute paths or cd, which it could not keep in its folder', () => {
    for (const run of ['mkdir -p /out', 'cd .. && touch x', "tar -xf - -C '/etc'"]) {
      const repo = repoWith(`FROM scratch\nWORKDIR /app\nRUN ${run}\n`);
      try {
        expect(() => replayDockerfile(repo)).toThrow(/relative to WORKDIR/);
      } finally {
        rmSync(repo, { recursive: true, force: true });
      }
    }
  });

  it('copies from the context and from earlier stages, and runs relative shell steps', () => {
    const repo = repoWith(
      'FROM scratch AS a\nWORKDIR /src\nCOPY . .\nRUN mkdir -p out && cp note.txt out/\n' +
        'FROM scratch\nENV A=1 B=two\nWORKDIR /app\nCOPY --from=a /src/out ./\nUSER node\nCMD ["node", "x.js"]\n',
    );
    writeFileSync(join(repo, 'note.txt'), 'hello');
    writeFileSync(join(repo, '.dockerignore'), 'secret.txt\n');
    writeFileSync(join(repo, 'secret.txt'), 'no');
    const image = replayDockerfile(repo);
    try {
      expect(image).toMatchObject({ workdir: '/app', env: { A: '1', B: 'two' }, user: 'node', cmd: ['node', 'x.js'] });
      expect(readFileSync(join(image.root, 'app', 'note.txt'), 'utf8')).toBe('hello');
      writeFileSync(join(repo, 'Dockerfile'), 'FROM scratch\nCOPY secret.txt ./\n');
      expect(() => replayDockerfile(repo)).toThrow(/not found in the build context/);
    } finally {
      image.remove();
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
