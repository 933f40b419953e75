import js from '@eslint/js';
import jest from 'eslint-plugin-jest';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'src/client/schema.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // Command-line tools: printing is their job.
    files: ['scripts/**', 'bench/**'],
    languageOptions: {
      globals: {
        fetch: 'readonly',
        AbortSignal: 'readonly',
        performance: 'readonly',
        setTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
      },
    },
    rules: { 'no-console': 'off' },
  },
  {
    // A focused or skipped test passes CI while checking less than the suite claims; a test
    // that asserts nothing passes whatever the code does.
    files: ['test/**'],
    plugins: { jest },
    rules: {
      'jest/no-focused-tests': 'error',
      'jest/no-disabled-tests': 'error',
      // Helpers that assert: fast-check's fc.assert, and the suite's own checkers of a response.
      'jest/expect-expect': [
        'error',
        { assertFunctionNames: ['expect', 'fc.assert', 'problem', 'accepted', 'acceptAndRead', 'expectSane'] },
      ],
    },
  },
);
