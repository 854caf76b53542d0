import './styles/index.css';
import { startApp } from './app.js';

const root = document.getElementById('app');
if (root) {
  startApp(root);
}
