// @peculiar/x509 (through tsyringe) needs the reflect polyfill before it is first imported.
import 'reflect-metadata';
