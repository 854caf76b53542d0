import './styles/index.css';
import { startApp } from './app.js';
import { makeZodJitless } from './core/csp.js';

// Before any lazy page loads zod: the CSP allows no eval.
makeZodJitless();
const root = document.getElementById('app');
if (root) {
  startApp(root);
}
