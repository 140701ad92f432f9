// Lint rules that catch real bugs in this codebase: un-awaited promises (an un-awaited activity
// is a lost call), type-only imports, and I/O or the LLM SDK leaking into deterministic workflow code.
import tseslint from 'typescript-eslint';
import { importX, createNodeResolver } from 'eslint-plugin-import-x';
import prettierConfig from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'examples/consumer/**', '.tmp/**', '.tools/**', 'runs/**', 'bench/results/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: {
      // No import cycles (type-only imports excepted): see ARCHITECTURE.md for the arrows that must never exist.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'crypto', 'http', 'https', 'child_process', 'worker_threads', 'net'],
              message: 'workflow code and its pure helpers must not use Node built-ins',
            },
            { group: ['@anthropic-ai/*'], message: 'LLM calls belong in activities' },
            { group: ['**/activities', '**/activities/*'], message: 'workflows may only `import type` activities', allowTypeImports: true },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'use sleep() from @temporalio/workflow' }, { name: 'setInterval', message: 'not allowed in workflows' }],
    },
  },
  {
    // Clients start the run workflows by type name: a client process loads no workflow code.
    files: ['src/cli/**/*.ts', 'src/client/**/*.ts', 'src/protocol.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows', '**/workflows/*'],
              message: 'clients start workflows by type name (RUN_WORKFLOW_TYPES in src/core/names.ts): `import type` only',
              allowTypeImports: true,
            },
            { group: ['@temporalio/workflow'], message: 'clients do not load the workflow SDK (src/protocol.ts builds the definitions itself)', allowTypeImports: true },
          ],
        },
      ],
    },
  },
  // Formatting is Prettier's (npm run format); lint only checks that it was applied (npm run format:check).
  prettierConfig,
);
